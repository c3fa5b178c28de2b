"""`make release`: one student notebook per course notebook, made by nbgrader's preprocessors.

Solutions become a stub, hidden tests are removed, outputs are cleared; the graded cells
stay, locked, so a learner can run the checks and act on their feedback.

    python -m labkit.grading.release [--out release/]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions, LockCells
from nbgrader.utils import is_grade

from ..llm.config import REPO_ROOT
from ..course import find_notebooks


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as a student gets it (a new notebook; the argument is left as it was)."""
    student = nbformat.from_dict(notebook)
    resources: dict = {}
    for step in (ClearSolutions(), ClearHiddenTests(), ClearOutput(), LockCells()):
        student, resources = step.preprocess(student, resources)
    return student


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the student release of every notebook.")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "release")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in find_notebooks([]):
        notebook = nbformat.read(path, as_version=4)
        nbformat.write(student_version(notebook), args.out / path.name)
        graded = sum(is_grade(c) for c in notebook.cells)
        print(f"{args.out / path.name}: {graded} graded check(s)")


if __name__ == "__main__":
    main()
