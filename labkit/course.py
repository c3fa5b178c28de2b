"""Run the course's notebooks headless: `make course` (replay), `make cassettes` (record).

    python -m labkit.course [--record] [--inplace] [NOTEBOOK ...]

Prints a line per notebook (seconds, cells, pass or fail), with progress while it runs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .config import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
CELL_TIMEOUT_S = 600


@dataclass
class Result:
    notebook: str
    seconds: float
    cells: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def line(self) -> str:
        verdict = "pass" if self.ok else f"FAIL  {self.error}"
        return f"{self.notebook:<34} {self.seconds:7.1f} s {self.cells:4d} cells  {verdict}"


def find_notebooks(names: list[str]) -> list[Path]:
    """Notebooks by stem or path; all of notebooks/ when no name is given."""
    if not names:
        return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    paths = []
    for name in names:
        path = Path(name) if name.endswith(".ipynb") else NOTEBOOKS / f"{name}.ipynb"
        if not path.exists():
            known = ", ".join(p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb")))
            raise SystemExit(f"No notebook {name!r}. The notebooks are: {known}")
        paths.append(path)
    return paths


def run_notebook(path: Path, inplace: bool = False, show_progress: bool = True) -> Result:
    """Execute one notebook in a fresh kernel, from its own folder."""
    notebook = nbformat.read(path, as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    done = 0

    def progress(cell, cell_index, execute_reply):
        nonlocal done
        done += 1
        if show_progress:
            print(f"\r  {path.stem}: cell {done}/{code_cells}", end="", flush=True)

    client = NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT_S,
                            record_timing=False,  # no timestamps in saved notebooks
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
    if show_progress:
        print("\r", end="")
    if inplace and not error:
        notebook.metadata.pop("widgets", None)  # widget state holds random ids: diff noise
        nbformat.write(notebook, path)
    return Result(path.stem, seconds, code_cells, error)


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
    mode = "recording from " + os.environ["LABKIT_BACKEND"] if args.record else (
        "backend " + os.environ.get("LABKIT_BACKEND", "replay"))
    print(f"Running {len(paths)} notebook(s), {mode}:")
    results = []
    interactive = sys.stdout.isatty()
    for path in paths:
        if not interactive:
            print(f"  {path.stem} ...", flush=True)
        result = run_notebook(path, inplace=args.inplace, show_progress=interactive)
        print(result.line(), flush=True)
        results.append(result)
    failed = [r for r in results if not r.ok]
    total = sum(r.seconds for r in results)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed in {total:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
