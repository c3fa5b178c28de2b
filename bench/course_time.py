"""How long the course takes headless, against the floor of starting a kernel at all,
and how long a fresh `make lab` install takes. One run, figures side by side.

    python bench/course_time.py [--skip-install] [--cold]

--cold installs with the package caches off (pip's and uv's), as on a machine that has
never installed the course.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from labkit.course import find_notebooks, run_notebook

REPO = Path(__file__).resolve().parent.parent


def kernel_floor() -> float:
    """Seconds to start a kernel, run one empty cell, and stop it."""
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")]), empty)
        return run_notebook(empty, show_progress=False).seconds


def timed(command: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def install_times(cold: bool) -> tuple[float, float]:
    """(seconds for a bare venv, seconds for the Makefile's install step into a fresh venv)."""
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "UV_NO_CACHE": "1"} if cold else None
    with tempfile.TemporaryDirectory() as folder:
        bare = timed([sys.executable, "-m", "venv", f"{folder}/bare"])
        venv = f"{folder}/venv"
        install = timed(["make", "-s", "-C", str(REPO), f"VENV={venv}", f"{venv}/.installed"], env)
    return bare, install


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-install", action="store_true", help="only time the notebooks")
    parser.add_argument("--cold", action="store_true", help="install with the package caches off")
    args = parser.parse_args()
    os.environ.update(LABKIT_BACKEND="replay", LABKIT_REPLAY_SPEED="0")

    if not args.skip_install:
        bare, install = install_times(args.cold)
        cache = "package caches off" if args.cold else "package caches as they are"
        print(f"fresh `make lab` install ({cache}): {install:.1f} s "
              f"= {install / bare:.1f} x a bare `python -m venv` ({bare:.1f} s)")

    floor = kernel_floor()
    print(f"kernel start-up floor (empty notebook): {floor:.2f} s")
    print(f"{'notebook':<28} {'seconds':>8} {'cells':>6} {'x floor':>8}")
    paths, total = find_notebooks([]), 0.0
    for path in paths:
        result = run_notebook(path, show_progress=False)
        total += result.seconds
        status = "" if result.ok else f"  FAILED: {result.error}"
        print(f"{result.notebook:<28} {result.seconds:8.2f} {result.cells:6d} "
              f"{result.seconds / floor:8.2f}{status}")
    print(f"course: {len(paths)} notebooks, {total:.1f} s, {total / (len(paths) * floor):.1f} x the kernel floor")


if __name__ == "__main__":
    main()
