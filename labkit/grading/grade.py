"""`make grade SUBMISSIONS=<dir> [NOTEBOOKS=<stem>...]`: grade <dir>/<student>/<notebook>.ipynb.

Every submission is hostile until proven otherwise. Its graded notebook is assembled from the
instructor's source: only the solution cells come from the submission; checks and hidden
tests always come from the source. It runs in a sandbox (sandbox.py), and each check scores
its points or 0, with a line of feedback a learner can act on.

Writes <dir>/grades.csv (student, notebook, check, points, max_points, feedback, failed_case),
<dir>/<student>/<notebook>.feedback.txt, and <dir>/report.html for the instructor.
"""
from __future__ import annotations

import argparse
import csv
import json
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_solution

from ..course import find_notebooks
from ..patterns import sandbox
from .release import student_version
from .report import write_report

FIELDS = ("student", "notebook", "check", "points", "max_points", "feedback", "failed_case")
SANDBOX_ENV = {  # what the notebook's kernel sees: replay only, every folder private
    "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": "/home/student",
    "LABKIT_BACKEND": "replay", "LABKIT_REPLAY_SPEED": "0", "LABKIT_GRADING": "1", "MPLCONFIGDIR": "/tmp/matplotlib",
    "IPYTHONDIR": "/tmp/ipython", "JUPYTER_CONFIG_DIR": "/tmp/jupyter", "JUPYTER_DATA_DIR": "/tmp/jupyter",
    "JUPYTER_RUNTIME_DIR": "/tmp/jupyter/runtime", "JUPYTER_PLATFORM_DIRS": "1",
    "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1",
}


@dataclass
class Check:
    student: str
    notebook: str
    check: str
    points: float
    max_points: float
    feedback: str
    failed_case: str = ""  # the visible case it failed, for the instructor's report


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _stub_sources(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the cell's source as released: a solution's stub, a check without hidden tests."""
    return {_nbgrader(c)["grade_id"]: c.source for c in student_version(source).cells
            if _nbgrader(c).get("grade_id")}


def assemble(source, submission) -> tuple[nbformat.NotebookNode, dict[str, list[str]], set[str]]:
    """The notebook to run, notes per check, and the checks whose solutions were attempted.

    Source order and source cells throughout; a solution cell's code is the submission's.
    """
    released = _stub_sources(source)
    submitted = {_nbgrader(c).get("grade_id"): c for c in submission.cells if _nbgrader(c).get("grade_id")}
    notebook = nbformat.from_dict(source)
    notes: dict[str, list[str]] = {}
    attempted: set[str] = set()
    solutions_changed = False  # since the last graded cell
    for cell in notebook.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if is_solution(cell):
            theirs = submitted.get(grade_id)
            cell.source = theirs.source if theirs is not None else released[grade_id]
            solutions_changed |= cell.source != released[grade_id]
        elif is_grade(cell):
            theirs = submitted.get(grade_id)
            if theirs is None:
                notes.setdefault(grade_id, []).append(
                    "this check's cell was missing from your notebook; the course's copy was run")
            elif theirs.source != released[grade_id]:
                notes.setdefault(grade_id, []).append(
                    "you changed this check's cell; the course's copy was run instead")
            if solutions_changed:
                attempted.add(grade_id)
            solutions_changed = False
    return notebook, notes, attempted


def read_report(printed: str, nonce: str) -> dict:
    """The runner's report from what the sandbox printed: only lines with this job's nonce
    (the kernel cannot know it), each cell's outcome and each check's last verdict."""
    report: dict = {"cells": {}, "checks": {}, "kernel_died_at": None, "lines": 0}
    for line in printed.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if type(record) is not dict or record.get("nonce") != nonce:
            continue
        report["lines"] += 1
        if "cell" in record:
            report["cells"][str(record["cell"])] = record
        elif "check" in record:
            report["checks"][str(record["check"])] = record
        elif "kernel_died_at" in record:
            report["kernel_died_at"] = record["kernel_died_at"]
    return report


def _short(error: str) -> str:
    """An error's first line, as short as a line of feedback should be."""
    line = error.strip().splitlines()[0].rstrip(": ") if error.strip() else "an error"
    return line if len(line) <= 200 else line[:197] + "..."


def _feedback(cell_index, report, outcome, limits, solution_errors) -> tuple[bool, str]:
    """(passed, feedback) for one graded cell, from the checker's verdict in the report."""
    verdict = report.get("checks", {}).get(str(cell_index))
    died_at = report.get("kernel_died_at")
    if verdict is None:
        if died_at is not None and died_at <= cell_index:
            return False, ("not run: the notebook's kernel died before this check (your code "
                           "stopped its own process, or used more memory than allowed)")
        why = (f"the notebook ran past the {limits.wall_s:g} s limit (an endless loop?)"
               if outcome.timed_out else "the notebook stopped before this check")
        return False, f"not run: {why}"
    if verdict["passed"]:
        return True, "passed"
    if solution_errors:
        return False, f"your code gave {solution_errors[-1]}; then the check said: {verdict['feedback']}"
    return False, verdict["feedback"]


def zero_for_every_check(student: str, notebook: str, source, feedback: str) -> list[Check]:
    """0 points, and the same feedback, for each check of a notebook that could not be run."""
    return [Check(student, notebook, _nbgrader(c)["grade_id"], 0, _nbgrader(c)["points"], feedback)
            for c in source.cells if is_grade(c)]


def grade_notebook(student: str, path: Path, source, limits: sandbox.Limits) -> list[Check]:
    """Run one submission in a sandbox and score each of its checks."""
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as error:  # any unreadable file: this student's problem only
        return zero_for_every_check(student, path.stem, source,
                                    f"your file is not a notebook that can be read "
                                    f"({type(error).__name__}); submit the .ipynb saved by Jupyter")
    notebook, notes, attempted = assemble(source, submission)
    with tempfile.TemporaryDirectory(prefix="labkit-grade-") as folder:
        workdir = Path(folder) / "work"
        # A private working copy of this student's files. Links stay links: copied as
        # content, a link to another student's folder would carry their work inside.
        shutil.copytree(path.parent, workdir, symlinks=True)
        released = _stub_sources(source)
        checks = {i: {"visible": released[_nbgrader(cell)["grade_id"]], "full": cell.source}
                  for i, cell in enumerate(notebook.cells) if is_grade(cell)}
        nonce = secrets.token_hex(16)
        job = {"notebook": notebook, "cell_timeout": limits.cell_s, "checks": checks,
               "nonce": nonce}
        outcome = sandbox.run([sys.executable, "-I", "-m", "labkit.grading.runner"], workdir,
                              json.dumps(job), limits, SANDBOX_ENV)
    report = read_report(outcome.stdout, nonce)
    if not report["lines"] and not outcome.timed_out:
        # The instructor must hear of it: maybe the sandbox itself is broken.
        said = outcome.stderr.strip().splitlines()[-3:] or ["(nothing)"]
        print(f"  warning: {student}/{path.name} gave no report; the sandbox said: "
              + " | ".join(said), file=sys.stderr)
    checks, solution_errors = [], []
    for index, cell in enumerate(notebook.cells):
        meta = _nbgrader(cell)
        result = report.get("cells", {}).get(str(index))
        if is_solution(cell) and result and result["status"] == "timeout":
            solution_errors.append(f"nothing in time and was stopped after {limits.cell_s:g} s "
                                   "(an endless loop?)")
        elif is_solution(cell) and result and result["status"] == "error":
            solution_errors.append(_short(result["error"]))
        elif not is_grade(cell) and result and result["status"] != "ok":
            # A course cell, not the student's: the sandbox may lack what the notebook needs.
            print(f"  warning: {student}/{path.name}: the course's cell {index} failed in the "
                  f"sandbox: {_short(result.get('error') or result['status'])}", file=sys.stderr)
        if not is_grade(cell):
            continue
        grade_id = meta["grade_id"]
        check_error = report.get("checks", {}).get(str(index), {}).get("check_error")
        if check_error:  # the instructor's check broke, not the student's code
            print(f"  warning: {student}/{path.name}: the check {grade_id} could not run: "
                  f"{check_error}", file=sys.stderr)
        if grade_id not in attempted:
            passed, feedback = False, ("not attempted: write your solution where the notebook "
                                       "says YOUR CODE HERE, then run the check cell")
        else:
            passed, feedback = _feedback(index, report, outcome, limits, solution_errors)
        feedback = "; ".join([feedback, *notes.get(grade_id, [])])
        failed_case = report.get("checks", {}).get(str(index), {}).get("case") or ""
        checks.append(Check(student, path.stem, grade_id, meta["points"] if passed else 0,
                            meta["points"], feedback, "" if passed else failed_case))
        solution_errors = []
    return checks


def write_feedback(folder: Path, notebook: str, checks: list[Check]) -> None:
    total = sum(c.points for c in checks)
    most = sum(c.max_points for c in checks)
    lines = [f"{notebook}: {total:g} of {most:g} points", ""]
    lines += [f"- {c.check}: {c.points:g}/{c.max_points:g}. {c.feedback}" for c in checks]
    (folder / f"{notebook}.feedback.txt").write_text("\n".join(lines) + "\n")


def grade_all(submissions: Path, limits: sandbox.Limits = sandbox.Limits(),
              notebooks: list[Path] | None = None,
              ceiling: sandbox.Limits = sandbox.CEILING) -> list[Check]:
    """Grade every student folder in `submissions`; write grades.csv, feedback files and the
    instructor's report. `limits` for every notebook, raised where a notebook's metadata asks
    for more, up to `ceiling`."""
    sandbox.require_bubblewrap()
    sources = {p.stem: nbformat.read(p, as_version=4) for p in notebooks or find_notebooks([])}
    sources = {stem: nb for stem, nb in sources.items()
               if any(is_grade(c) for c in nb.cells)}
    needs = {stem: sandbox.limits_for(stem, nb.metadata.get("labkit", {}).get("grading", {}),
                                      limits, ceiling) for stem, nb in sources.items()}
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    jobs = [(student, stem) for student in students for stem in sources]
    rows: list[Check] = []
    for number, (student, stem) in enumerate(jobs, start=1):
        path = student / f"{stem}.ipynb"
        started = time.perf_counter()
        if path.exists():
            checks = grade_notebook(student.name, path, sources[stem], needs[stem])
        else:
            checks = zero_for_every_check(student.name, stem, sources[stem],
                                          f"not submitted: no {stem}.ipynb in your folder")
        write_feedback(student, stem, checks)
        rows += checks
        print(f"[{number}/{len(jobs)}] {student.name}/{stem}: "
              f"{sum(c.points for c in checks):g}/{sum(c.max_points for c in checks):g} points "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
    with open(submissions / "grades.csv", "w", newline="") as table:
        writer = csv.writer(table)
        writer.writerow(FIELDS)
        writer.writerows([getattr(row, field) for field in FIELDS] for row in rows)
    write_report(rows, submissions / "report.html")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="a folder with one folder per student")
    parser.add_argument("--notebooks", nargs="*", default=[],
                        help="grade only these notebooks (stems), e.g. 01_multi_agent_systems")
    parser.add_argument("--ceiling", nargs="*", default=[], metavar="LIMIT=VALUE",
                        help="the most a notebook may ask for, e.g. processes=256 memory_mb=8192")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder: give the folder of student folders, "
                     "e.g. make grade SUBMISSIONS=submissions/")
    try:
        ceiling = sandbox.parse_limits(args.ceiling, sandbox.CEILING)
        notebooks = find_notebooks(args.notebooks) if args.notebooks else None
        rows = grade_all(args.submissions, notebooks=notebooks, ceiling=ceiling)
    except (sandbox.SandboxUnavailable, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    print(f"Wrote {args.submissions / 'grades.csv'} ({len(rows)} rows), a feedback file per "
          f"student and notebook, and {args.submissions / 'report.html'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
