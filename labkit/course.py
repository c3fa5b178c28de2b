"""Run the course's notebooks headless: `make course` (replay), `make cassettes` (record).

    python -m labkit.course [--record] [--inplace] [NOTEBOOK ...]

Prints a line per notebook (seconds, cells, pass or fail), with progress while it runs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .kernels import IPCKernelManager
from .llm.config import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
BENCH = REPO_ROOT / "bench"
# Benchmarks that replay model calls from cassettes of their own, cassettes/bench_<name>/:
# `make cassettes` records them with the notebooks.
RECORDED_BENCHES = ["fanout", "faults", "cost", "load", "ray_scaling", "attacks", "attribution"]
CELL_TIMEOUT_S = 600


@dataclass
class Result:
    notebook: str
    seconds: float
    cells: int
    error: str = ""
    unplayed: list[str] = field(default_factory=list)  # recordings nothing asked for

    @property
    def ok(self) -> bool:
        return not self.error

    def line(self) -> str:
        verdict = "pass" if self.ok else f"FAIL  {self.error}"
        cells = f"{self.cells:4d} cells" if self.cells else " " * 10  # a benchmark has none
        line = f"{self.notebook:<34} {self.seconds:7.1f} s {cells}  {verdict}"
        if self.unplayed:
            line += (f"\n  its cassette holds {len(self.unplayed)} recording(s) no cell asked for "
                     f"(re-record: make cassettes NOTEBOOKS={self.notebook}): "
                     + ", ".join(self.unplayed[:5]) + (" ..." if len(self.unplayed) > 5 else ""))
        return line


def find_notebooks(names: list[str]) -> list[Path]:
    """Notebooks by stem or path; all of notebooks/ when no name is given. (Names of
    benchmarks' cassettes, bench_<name>, are left to find_benches.)"""
    if not names:
        return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    paths = []
    for name in names:
        if name.startswith("bench_"):
            continue
        path = Path(name) if name.endswith(".ipynb") else NOTEBOOKS / f"{name}.ipynb"
        if not path.exists():
            known = ", ".join(p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb")))
            raise SystemExit(f"No notebook {name!r}. The notebooks are: {known}")
        paths.append(path)
    return paths


def find_benches(names: list[str]) -> list[Path]:
    """The benchmarks with cassettes of their own: those named bench_<name>; all when no name
    is given."""
    if not names:
        return [BENCH / f"{name}.py" for name in RECORDED_BENCHES]
    wanted = [name.removeprefix("bench_") for name in names if name.startswith("bench_")]
    unknown = sorted(set(wanted) - set(RECORDED_BENCHES))
    if unknown:
        raise SystemExit(f"No benchmark cassette {', '.join('bench_' + n for n in unknown)}. "
                         f"Those with one: {', '.join('bench_' + n for n in RECORDED_BENCHES)}")
    return [BENCH / f"{name}.py" for name in wanted]


def run_bench(path: Path, record: bool) -> Result:
    """Record a benchmark's cassette, or replay its workload once to check every recording is used."""
    started = time.perf_counter()
    run = subprocess.run([sys.executable, str(path), "--record" if record else "--check"],
                         capture_output=True, text=True)
    said = (run.stdout + run.stderr).strip().splitlines() or ["no output"]
    error = "" if run.returncode == 0 else said[-1][:300]
    return Result(f"bench_{path.stem}", time.perf_counter() - started, 0, error)


# Run after a notebook's last cell, in its kernel: which recordings did no cell ask for? Then
# close the session, which saves a recording: a kernel that used a process pool does not always
# stop cleanly when asked (it is killed, and its atexit hooks never run).
UNPLAYED_PROBE = """
import json as _json, sys as _sys
_session = _sys.modules.get("labkit.llm.session")  # a notebook that never used labkit: none
print(_json.dumps(_session._active.unplayed() if _session and _session._active else []))
if _session and _session._active:
    _session._active.close()
"""


def run_notebook(path: Path, inplace: bool = False, show_progress: bool = True) -> Result:
    """Execute one notebook in a fresh kernel, from its own folder; then ask its session
    which recordings of its cassette no cell asked for."""
    notebook = nbformat.read(path, as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    probe = nbformat.v4.new_code_cell(UNPLAYED_PROBE)
    notebook.cells.append(probe)
    done = 0

    def progress(cell, cell_index, execute_reply):
        nonlocal done
        done += 1
        if show_progress and done <= code_cells:
            print(f"\r  {path.stem}: cell {done}/{code_cells}", end="", flush=True)

    client = NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                            kernel_manager_class=IPCKernelManager,
                            record_timing=False,  # no timestamps in saved notebooks
                            coalesce_streams=True,  # one print, one output, however it was sent
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_executed=progress)
    started = time.perf_counter()
    error = ""
    try:
        client.execute()
    except CellExecutionError as failure:
        error = f"cell {done + 1}: {failure.ename}: {failure.evalue}"[:300]
    except Exception as failure:  # a dead kernel or a timeout: report it, go on to the next
        error = f"{type(failure).__name__}: {failure}"[:300]
    seconds = time.perf_counter() - started
    notebook.cells.remove(probe)
    if show_progress:
        print("\r", end="")
    if inplace and not error:
        notebook.metadata.pop("widgets", None)  # widget state holds random ids: diff noise
        nbformat.write(notebook, path)
    printed = "".join(o.get("text", "") for o in probe.outputs if o.get("name") == "stdout")
    unplayed = json.loads(printed) if printed.strip() and not error else []
    return Result(path.stem, seconds, code_cells, error, unplayed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="stems or paths (default: all)")
    parser.add_argument("--record", action="store_true",
                        help="re-record the cassettes from a live model (default: local)")
    parser.add_argument("--inplace", action="store_true", help="save the outputs into the notebooks")
    args = parser.parse_args(argv)
    if args.record:
        # Every kernel inherits these: a live backend, recording.
        os.environ.setdefault("LABKIT_BACKEND", "local")
        os.environ["LABKIT_RECORD"] = "1"
    paths = find_notebooks(args.notebooks)
    # Recording covers the benchmarks' cassettes too; a replay runs them only when named.
    benches = find_benches(args.notebooks) if args.record or args.notebooks else []
    mode = "recording from " + os.environ["LABKIT_BACKEND"] if args.record else (
        "backend " + os.environ.get("LABKIT_BACKEND", "replay"))
    print(f"Running {len(paths)} notebook(s)" + (f" and {len(benches)} benchmark(s)" if benches else "")
          + f", {mode}:")
    results = []
    interactive = sys.stdout.isatty()
    for path in paths + benches:
        if not interactive:
            print(f"  {path.stem} ...", flush=True)
        if path.suffix == ".ipynb":
            result = run_notebook(path, inplace=args.inplace, show_progress=interactive)
        else:
            result = run_bench(path, record=args.record)
        print(result.line(), flush=True)
        results.append(result)
    failed = [r for r in results if not r.ok]
    total = sum(r.seconds for r in results)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
