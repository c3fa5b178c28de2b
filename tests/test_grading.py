"""Grading: the student release, and sandboxed autograding of hostile submissions.

One grading run takes every fixture below, then a correct submission: each hostile one
scores 0 on what it broke with feedback saying why, nothing escapes the sandbox, and the
correct one after them all still gets full marks.
"""
import csv
import html
import socket
import threading

import nbformat
import pytest
from system_packages import skip_unless_installed

from labkit.llm.config import REPO_ROOT
from labkit.grading import grade
from labkit.patterns import sandbox
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


# Right on every visible case; on any other (a hidden one) it tries to carry the case out:
# in its error, and through the next check's answer. It also tries to read the grader.
EXFILTRATE_TRIAGE = """
import json, os
looked = []
for path in ["/proc/1/cmdline", f"/proc/{os.getppid()}/environ", f"/proc/{os.getppid()}/mem"]:
    try:
        looked.append(open(path, "rb").read(300))
    except OSError as error:
        looked.append(type(error).__name__)
VISIBLE = {
    '{"component": "auth", "severity": "high", "summary": "Logged out after reset"}': [],
    '{"component": "auth", "severity": "high"}': ["summary: missing"],
    '{"component": "auth", "severity": "urgent", "summary": "Logged out after reset"}': ["severity: bad"],
    json.dumps({"component": "auth", "severity": "high", "summary": "x" * 81}, sort_keys=True): ["summary: long"],
}
seen = []
class Leak(Exception):
    pass
def check_triage(answer):
    key = json.dumps(answer, sort_keys=True)
    if key in VISIBLE:
        return VISIBLE[key]
    seen.append(answer)
    raise Leak(f"hidden: {answer!r}; read: {looked!r}")
"""
EXFILTRATE_COST = """
from labkit.llm.usage import cost
def cost_on(ledger, model):
    if len(seen) > 1:  # the first unknown answer is the notebook's own (the model's triage)
        return repr(seen)
    return sum(cost(model, u.prompt_tokens, u.completion_tokens) for u in ledger.records)
"""
HIDDEN_CASE_TEXTS = ["kitchen", "Oven on fire", "Button hidden", "yyyy", "4.1-mini"]


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
        # bytes(n) is calloc'd: the address-space limit is reached without zeroing 3 GB first,
        # which on a fresh VM can take longer than the cell's 8 s.
        "memory-bomb": "hog = []\nwhile True:\n    hog.append(bytes(256 * 1024 * 1024))",
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
        # Answers that pretend: objects that equal anything, subclasses that say yes.
        "always-equal": ("class Anything:\n"
                         "    def __eq__(self, other): return True\n"
                         "    def __ne__(self, other): return False\n"
                         "    def __contains__(self, item): return True\n"
                         "    def __iter__(self): return iter([])\n"
                         "def check_triage(answer):\n    return Anything()"),
        "list-subclass": ("class Problems(list):\n"
                          "    def __eq__(self, other): return True\n"
                          "    def __ne__(self, other): return False\n"
                          "def check_triage(answer):\n    return Problems()"),
        "str-subclass": ("class Sneaky(str):\n"
                         "    def __contains__(self, item): return True\n"
                         "def check_triage(answer):\n    return [] if len(answer) == 3 and "
                         "answer['severity'] == 'high' and len(answer['summary']) < 80 "
                         "else [Sneaky('?')]"),
        # Kernels changed so that a failing check would look passed, four ways.
        "hide-failures": ("ip = get_ipython()\n"
                          "ip.showtraceback = lambda *args, **kwargs: None\n"
                          "ip.events.register('post_run_cell', "
                          "lambda result: setattr(result, 'error_in_exec', None))\n"
                          "def check_triage(answer):\n    return []"),
        "fake-checks-module": ("import sys, types\n"
                               "fake = types.ModuleType('labkit.checks')\n"
                               "fake.check_triage_validator = lambda *args, **kwargs: print('✓')\n"
                               "fake.check_cost_on = fake.check_triage_validator\n"
                               "sys.modules['labkit.checks'] = fake\n"
                               "def check_triage(answer):\n    return []"),
        "fake-answers": ("import labkit.checks._boundary as boundary\n"
                         "boundary.serve_in_kernel = lambda question: "
                         "'{\"value\": [], \"model_seconds\": 0, \"journal\": {}}'\n"
                         "def check_triage(answer):\n    return []"),
        "rewrite-cells": ("get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
                          "def check_triage(answer):\n    return []"),
        "builtins": ("import builtins\n"  # an in-kernel check of any(...) would always pass
                     "builtins.any = builtins.all = lambda *args: True\n"
                     "def check_triage(answer):\n    return []"),
        "prints-success": ("print('✓ check_triage: all 4 cases right')\n"
                           "def check_triage(answer):\n    return []"),
        "too-large": "def check_triage(answer):\n    return ['severity component summary ' * 40] * 1000",
        # At the sandbox itself: a report forged on its pid 1's stdout, then the checker
        # killed; and a flood of output on its stderr, which the grader must not hold.
        "forge-report": ("import json, os, signal\n"
                         "forged = {'check': 17, 'passed': True, 'feedback': 'passed'}\n"
                         "with open('/proc/1/fd/1', 'w') as out:\n"
                         "    for nonce in ['', None, '0' * 32]:\n"
                         "        out.write(json.dumps({'nonce': nonce, **forged}) + '\\n')\n"
                         "os.kill(os.getppid(), signal.SIGKILL)"),
        "flood-output": ("with open('/proc/1/fd/2', 'w') as err:\n"
                         "    for _ in range(200):\n        err.write('x' * (1 << 20))\n"
                         "def check_triage(answer):\n    return []"),
        "exit": "import sys\nsys.exit(0)",
        "kill-kernel": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    }
    subs = tmp_path / "subs"
    notebooks = {name: submission({"triage-solution": code, **cost}) for name, code in hostile.items()}
    notebooks["exfiltrate"] = submission({"triage-solution": EXFILTRATE_TRIAGE,
                                          "cost-solution": EXFILTRATE_COST})
    notebooks["edit-check"] = submission(cost, edits={"triage-check": "print('all checks passed')"})
    notebooks["release-as-is"] = submission()
    notebooks["partial"] = submission(cost)
    notebooks["zz-correct"] = submission(solutions)  # graded last, after every hostile one
    for student, notebook in notebooks.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(notebook, subs / student / "00_setup.ipynb")
    (subs / "read-other" / "linked.ipynb").symlink_to(subs / "zz-correct" / "00_setup.ipynb")
    # Files of a student's own that would shadow what the checker imports, were it run there.
    shadowing = subs / "shadow-modules"
    shadowing.mkdir()
    nbformat.write(submission({"triage-solution": "def check_triage(answer):\n    return []"}),
                   shadowing / "00_setup.ipynb")
    for module in ["json.py", "nbclient.py", "ast.py"]:
        (shadowing / module).write_text("import sys\nsys.stdout.write('{\"forged\": 1}')\n"
                                            "raise SystemExit(0)\n")
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
    ("patch-checks", "the 'summary' field is wrong here"),
    ("always-equal", "returned <a Anything> (a Anything)"),
    ("list-subclass", "(a Problems)"),
    ("str-subclass", "a list of problems (strings)"),
    ("hide-failures", "the 'summary' field is wrong here"),
    ("fake-checks-module", "raised ModuleNotFoundError"),
    ("fake-answers", "the 'summary' field is wrong here"),
    ("rewrite-cells", "an unreadable answer"),
    ("builtins", "the 'summary' field is wrong here"),
    ("prints-success", "the 'summary' field is wrong here"),
    ("too-large", "too large to check"),
    ("forge-report", "not run: the notebook stopped before this check"),
    ("flood-output", ""),
    ("shadow-modules", ""),
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


def test_hidden_cases_stay_hidden_whatever_the_kernel_does(graded):
    _, results = graded
    triage, cost = results["exfiltrate"]["triage-check"], results["exfiltrate"]["cost-check"]
    assert triage == (0, "a hidden case failed (your code raised an exception); it tests this "
                         "rule: a valid answer has no problems, and each problem of an invalid "
                         "one names its field")
    # The cost check's visible cases ran before any hidden input reached the kernel: passed;
    # its hidden ones after, when the kernel answered with what it had seen: wrong.
    assert cost[0] == 0 and cost[1].startswith("a hidden case failed (your answer was wrong)")
    for student, checks in results.items():
        for check, (_, feedback) in checks.items():
            assert not any(text in feedback for text in HIDDEN_CASE_TEXTS), (student, check)


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


def test_the_instructors_report_shows_each_check_and_its_commonest_failed_case(graded):
    subs, results = graded
    report = (subs / "report.html").read_text()

    assert report.count("<tr>") == 3  # a header, and one row per check of 00
    assert "<svg" in report
    # The triage check's commonest failure is one of its visible cases, named with its inputs.
    assert html.escape("{'severity': 'high', 'component': 'auth'") in report
    assert not any(text in report for text in HIDDEN_CASE_TEXTS)


def test_one_assignment_at_a_time_lists_only_that_notebook(tmp_path, capsys):
    (tmp_path / "ana").mkdir()
    nbformat.write(submission(reference_solutions()), tmp_path / "ana" / "00_setup.ipynb")

    assert grade.main([str(tmp_path), "--notebooks", "01_multi_agent_systems"]) == 0

    with open(tmp_path / "grades.csv") as table:
        rows = list(csv.DictReader(table))
    assert {row["notebook"] for row in rows} == {"01_multi_agent_systems"}
    assert all(row["points"] == "0" and row["feedback"].startswith("not submitted")
               for row in rows)
    assert "[1/1] ana/01_multi_agent_systems" in capsys.readouterr().out


def test_a_bad_ceiling_is_refused_with_the_limits_named(tmp_path, capsys):
    assert grade.main([str(tmp_path), "--ceiling", "memory=3"]) == 2
    assert "The limits are wall_s, cell_s, memory_mb, processes, file_mb" in capsys.readouterr().err


def test_a_heavy_notebook_gets_what_it_declares_and_a_cell_can_skip_itself(tmp_path, capfd):
    """A notebook's metadata raises its limits (here processes, past the default 64); a course
    cell that cannot run in the grader says so, and the checks still score."""
    cells = [
        nbformat.v4.new_code_cell('import threading\nimport labkit\nlab = labkit.setup("unit", "0.2")'),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\n" + STOP_REASON + "### END SOLUTION",
                                  metadata={"nbgrader": {"grade": False, "grade_id": "sol",
                                                         "locked": False, "solution": True}}),
        nbformat.v4.new_code_cell(  # many threads at once: more than the default allows
            "done = threading.Barrier(101)\n"
            "threads = [threading.Thread(target=done.wait) for _ in range(100)]\n"
            "for thread in threads:\n    thread.start()\ndone.wait()\n"
            "print('100 threads ran')"),
        nbformat.v4.new_code_cell(
            "if lab.grading:\n    print('skipped when grading: it starts a sandbox of its own')\n"
            "else:\n    raise RuntimeError('a nested sandbox')"),
        nbformat.v4.new_code_cell(
            "from labkit.checks import check_stop_reason\ncheck_stop_reason(stop_reason)",
            metadata={"nbgrader": {"grade": True, "grade_id": "check", "locked": True,
                                   "points": 1, "solution": False}}),
    ]
    heavy = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "labkit": {"grading": {"processes": 160}}})
    source = tmp_path / "09_heavy.ipynb"
    nbformat.write(heavy, source)
    (tmp_path / "subs" / "ana").mkdir(parents=True)
    answered = student_version(heavy)
    answered.cells[1].source = STOP_REASON
    nbformat.write(answered, tmp_path / "subs" / "ana" / source.name)

    rows = grade.grade_all(tmp_path / "subs", LIMITS, notebooks=[source])

    assert [(row.points, row.feedback) for row in rows] == [(1, "passed")]
    assert "warning" not in capfd.readouterr().err  # every course cell ran, or skipped itself


STOP_REASON = """def stop_reason(history, max_rounds):
    if history and history[-1][1]:
        return "approved"
    if history and history[-1][0] in [draft for draft, _ in history[:-1]]:
        return "repeated draft"
    return "round limit" if len(history) >= max_rounds else None
"""
