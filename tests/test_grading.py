"""Grading: the student release, and sandboxed autograding of hostile submissions.

One grading run takes every fixture below, then a correct submission: each hostile one
scores 0 on what it broke with feedback saying why, nothing escapes the sandbox, and the
correct one after them all still gets full marks.
"""
import csv
import socket
import threading

import nbformat
import pytest
from system_packages import skip_unless_installed

from labkit.llm.config import REPO_ROOT
from labkit.grading import grade, sandbox
from labkit.grading.release import student_version

SOURCE = REPO_ROOT / "notebooks" / "00_setup.ipynb"
LIMITS = sandbox.Limits(wall_s=60, cell_s=8, memory_mb=3072, processes=64)



@pytest.fixture(autouse=True, scope="module")
def bubblewrap():
    skip_unless_installed("bubblewrap", "/usr/bin/bwrap", "the grading tests")


def source():
    return nbformat.read(SOURCE, as_version=4)


def reference_solutions():
    return {c.metadata.nbgrader["grade_id"]: c.source for c in source().cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def submission(answers=None, edits=None):
    """The release notebook with some cells' code replaced, by grade_id."""
    notebook = student_version(source())
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell.source = {**(answers or {}), **(edits or {})}.get(grade_id, cell.source)
    return notebook


def test_release_keeps_checks_and_drops_solutions_hidden_tests_and_outputs():
    released = student_version(source())
    text = "\n".join(c.source for c in released.cells)
    assert "### BEGIN SOLUTION" not in text and "raise NotImplementedError()" in text
    assert "HIDDEN TESTS" not in text and "extra_cases" not in text
    assert "check_triage_validator(check_triage)" in text
    assert all(not c.get("outputs") for c in released.cells if c.cell_type == "code")


@pytest.fixture(scope="module")
def listener():
    """A service on the grader's own 127.0.0.1, which no submission may reach."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted = []

    def accept():
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                pass

    stop = threading.Event()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, listener):
    """Grade all fixtures in one run; return {student: {check: (points, feedback)}}."""
    tmp_path = tmp_path_factory.mktemp("grading")
    port, accepted = listener
    outside = tmp_path / "outside.txt"
    solutions = reference_solutions()
    cost = {"cost-solution": solutions["cost-solution"]}  # right, so a partial score shows
    hostile = {
        "infinite-loop": "while True:\n    pass",
        "memory-bomb": "hog = []\nwhile True:\n    hog.append(bytearray(256 * 1024 * 1024))",
        "fork-bomb": "import os\nwhile True:\n    os.fork()",
        # Plain sockets: the notebook's cassette would catch an HTTP client before the sandbox.
        "network": ("import socket\n"
                    "blocked = []\n"
                    "for address in [('pypi.org', 443), ('127.0.0.1', %d)]:\n" % port +
                    "    try:\n        socket.create_connection(address, timeout=5)\n"
                    "    except OSError as error:\n        blocked.append(type(error).__name__)\n"
                    "raise RuntimeError(f'blocked: {blocked}')"),
        "write-outside": (f"open({str(REPO_ROOT / 'labkit' / 'planted.py')!r}, 'w')\n"
                          f"open({str(outside)!r}, 'w')"),
        "read-other": ("read = 0\n"
                       "for path in ['linked.ipynb', "
                       f"{str(tmp_path / 'subs' / 'zz-correct' / '00_setup.ipynb')!r}]:\n"
                       "    try:\n        read += len(open(path).read()) > 0\n"
                       "    except OSError:\n        pass\n"
                       "raise RuntimeError(f'read {read} other files')"),
        "patch-checks": ("import labkit.checks\n"
                         "labkit.checks.check_triage_validator = lambda *args, **kwargs: print('✓')\n"
                         "def check_triage(answer):\n    return []"),
        "exit": "import sys\nsys.exit(0)",
        "kill-kernel": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    }
    subs = tmp_path / "subs"
    notebooks = {name: submission({"triage-solution": code, **cost}) for name, code in hostile.items()}
    notebooks["edit-check"] = submission(cost, edits={"triage-check": "print('all checks passed')"})
    notebooks["release-as-is"] = submission()
    notebooks["partial"] = submission(cost)
    notebooks["zz-correct"] = submission(solutions)  # graded last, after every hostile one
    for student, notebook in notebooks.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(notebook, subs / student / "00_setup.ipynb")
    (subs / "read-other" / "linked.ipynb").symlink_to(subs / "zz-correct" / "00_setup.ipynb")
    (subs / "garbage").mkdir()
    (subs / "garbage" / "00_setup.ipynb").write_text("{ this is not json")

    grade.grade_all(subs, LIMITS, notebooks=[SOURCE])

    with open(subs / "grades.csv") as table:
        rows = list(csv.DictReader(table))
    assert not accepted, "a submission reached a service on the grader's 127.0.0.1"
    assert not outside.exists() and not (REPO_ROOT / "labkit" / "planted.py").exists()
    results = {}
    for row in rows:
        results.setdefault(row["student"], {})[row["check"]] = (float(row["points"]), row["feedback"])
    return subs, results


def test_grades_csv_has_the_documented_columns(graded):
    subs, _ = graded
    with open(subs / "grades.csv") as table:
        assert next(csv.reader(table)) == list(grade.FIELDS)


def test_correct_submission_after_all_hostile_ones_gets_full_marks(graded):
    _, results = graded
    assert results["zz-correct"] == {"triage-check": (2, "passed"), "cost-check": (1, "passed")}


def test_release_as_is_scores_zero_not_attempted(graded):
    _, results = graded
    assert all(points == 0 and "not attempted" in feedback
               for points, feedback in results["release-as-is"].values())


def test_partial_submission_gets_partial_marks(graded):
    _, results = graded
    assert results["partial"]["cost-check"][0] == 1
    assert results["partial"]["triage-check"][0] == 0


@pytest.mark.parametrize("student, says", [
    ("infinite-loop", "stopped after"),
    ("memory-bomb", "MemoryError"),
    ("fork-bomb", ""),
    ("network", "blocked: ['gaierror', 'ConnectionRefusedError']"),
    ("write-outside", "Read-only file system"),
    ("read-other", "read 0 other files"),
    ("patch-checks", "replaced labkit.checks.check_triage_validator"),
    ("exit", "SystemExit"),
    ("kill-kernel", "kernel died"),
    ("edit-check", "you changed this check's cell"),
    ("garbage", "not a notebook"),
])
def test_hostile_submission_scores_zero_on_what_it_broke_and_says_why(graded, student, says):
    _, results = graded
    points, feedback = results[student]["triage-check"]
    assert points == 0
    assert says in feedback, feedback
    assert feedback != "passed"


def test_feedback_file_per_student_is_readable(graded):
    subs, _ = graded
    text = (subs / "partial" / "00_setup.feedback.txt").read_text()
    assert text.startswith("00_setup: 1 of 3 points")
    assert "- cost-check: 1/1. passed" in text


LATER = sorted(p for p in (REPO_ROOT / "notebooks").glob("[0-9]*.ipynb") if p != SOURCE)


def test_every_notebook_runs_whole_in_the_sandbox_and_its_solutions_earn_full_marks(
        tmp_path, capfd):
    """Each later notebook's reference solutions, in its release: full marks, and no course
    cell fails in the sandbox (so it has what the notebook reads: cassettes, examples)."""
    student = tmp_path / "subs" / "reference"
    student.mkdir(parents=True)
    for path in LATER:
        notebook = nbformat.read(path, as_version=4)
        solutions = {c.metadata.nbgrader["grade_id"]: c.source for c in notebook.cells
                     if c.metadata.get("nbgrader", {}).get("solution")}
        released = student_version(notebook)
        for cell in released.cells:
            cell.source = solutions.get(cell.metadata.get("nbgrader", {}).get("grade_id"),
                                        cell.source)
        nbformat.write(released, student / path.name)

    grade.grade_all(tmp_path / "subs", sandbox.Limits(wall_s=170, cell_s=60, memory_mb=3072,
                                                      processes=64), notebooks=LATER)

    with open(tmp_path / "subs" / "grades.csv") as table:
        rows = list(csv.DictReader(table))
    assert {row["notebook"] for row in rows} == {path.stem for path in LATER}
    assert all(row["points"] == row["max_points"] for row in rows), rows
    assert "warning" not in capfd.readouterr().err
