"""What the sandbox costs: seconds per submission through our sandboxed grader against plain
nbgrader autograde, and the sandbox's peak memory. One run, figures side by side.

    python bench/grade_throughput.py [--students N]

Both graders get the same N correct submissions of notebooks/00_setup.ipynb and must give each
full marks, or the script says why and exits 1: `grade.grade_all` (default `sandbox.Limits()`, a
bubblewrap sandbox per submission) in this process, its imports done before the clock starts;
and the `nbgrader autograde` command, no sandbox, in a throwaway course. So the sandbox is
compared with nbgrader less its start-up (an autograde with nothing submitted) and with the
whole command. CPU seconds stand beside wall seconds: other work on the machine stretches wall.

Warm caches: each grader grades a warm-up submission, not counted, right before its measured
batch (sandbox warm-up, sandbox batch, nbgrader warm-up, nbgrader batch), so both batches start
with the venv's files in the page cache and their start-up paths run once.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from labkit.grading import grade, sandbox
from labkit.grading.release import student_version

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "notebooks" / "00_setup.ipynb"
ASSIGNMENT = "ps0"
PR_SET_CHILD_SUBREAPER = 36
source = nbformat.read(SOURCE, as_version=4)


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


FULL = sum(meta(c)["points"] for c in source.cells if meta(c).get("grade"))
ANSWERS = {meta(c)["grade_id"]: c.source for c in source.cells if meta(c).get("solution")}


def solved(released: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A correct submission: the released notebook with the instructor's code in each solution."""
    for cell in released.cells:
        if meta(cell).get("solution"):
            cell.source = ANSWERS[meta(cell)["grade_id"]]
    return released


def reap_orphans() -> list[resource.struct_rusage]:
    """Wait for the processes this one adopted; what each one's process tree used.

    bwrap exits without waiting for the first process in its sandbox, so that process and all
    under it (runner, kernel) count in no getrusage of ours unless we adopt and reap it: main()
    makes this process a child subreaper, which adopts them."""
    used = []
    with contextlib.suppress(ChildProcessError):  # none left: every other child is waited for
        while True:
            used.append(os.wait4(-1, 0)[2])
    return used


def clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and every descendant reaped so far)."""
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return time.perf_counter(), sum(r.ru_utime + r.ru_stime for r in used)


def since(started: tuple[float, float]) -> list[float]:
    return [now - then for now, then in zip(clock(), started)]


def fail(what: str, said: str) -> None:
    print(f"{what}; a benchmark of failing runs is worthless. It said:\n{said}", file=sys.stderr)
    sys.exit(1)


def sandboxed(students: int) -> tuple[list[float], int]:
    """(wall, CPU) seconds for grade_all to grade `students` correct submissions, and the peak
    resident memory, in KiB, of the largest single process in any of their sandboxes."""
    with tempfile.TemporaryDirectory() as folder:
        for number in range(students):
            (student := Path(folder) / f"s{number}").mkdir()
            nbformat.write(solved(student_version(source)), student / SOURCE.name)
        started = clock()
        with contextlib.redirect_stdout(io.StringIO()) as said:  # a line per submission
            rows = grade.grade_all(Path(folder), sandbox.Limits(), notebooks=[SOURCE])
        # ru_maxrss of a reaped tree: its largest single process's peak, not the tree's sum.
        peak = max((used.ru_maxrss for used in reap_orphans()), default=0)
        seconds = since(started)
    scores = {f"s{number}": 0.0 for number in range(students)}
    for row in rows:
        scores[row.student] += row.points
    if any(score != FULL for score in scores.values()):
        fail(f"the sandboxed grader gave {scores}, not {FULL} each",
             said.getvalue() + "\n".join(f"{r.student} {r.check}: {r.feedback}" for r in rows))
    return seconds, peak


def plain_nbgrader(students: int) -> tuple[list[float], list[float]]:
    """(wall, CPU) seconds for `nbgrader autograde` to grade `students` correct submissions,
    no sandbox, and for the same command with nothing to grade: its start-up."""
    with tempfile.TemporaryDirectory() as folder:
        root, private = Path(folder), Path(folder) / "private"
        db_url = f"sqlite:///{root / 'gradebook.db'}"
        (root / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
            f"c.CourseDirectory.course_id = 'bench'\nc.CourseDirectory.db_url = {db_url!r}\n")
        # The sandbox's environment, its folders made private folders of this course.
        env = {**os.environ, **grade.SANDBOX_ENV, "HOME": str(private), "TMPDIR": str(private),
               **{name: str(private / name.lower()) for name in (
                   "MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR",
                   "JUPYTER_RUNTIME_DIR")}}

        def nbgrader(*args: str, check: bool = True) -> tuple[list[float], str]:
            started = clock()
            done = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=root,
                                  env=env, capture_output=True, text=True)
            reap_orphans()  # none expected: nbgrader waits for its kernels
            if check and done.returncode:
                fail(f"`nbgrader {' '.join(args)}` exited {done.returncode}",
                     done.stdout + done.stderr)
            return since(started), done.stdout + done.stderr

        private.mkdir()
        (root / "source" / ASSIGNMENT).mkdir(parents=True)
        shutil.copy(SOURCE, root / "source" / ASSIGNMENT)
        nbgrader("generate_assignment", ASSIGNMENT)
        # Start-up: an autograde with nothing submitted yet, which nbgrader ends with exit 1.
        start_up, _ = nbgrader("autograde", ASSIGNMENT, check=False)
        released = root / "release" / ASSIGNMENT / SOURCE.name  # with nbgrader's checksums
        for number in range(students):
            path = root / "submitted" / f"s{number}" / ASSIGNMENT / SOURCE.name
            path.parent.mkdir(parents=True)
            nbformat.write(solved(nbformat.read(released, as_version=4)), path)
        seconds, said = nbgrader("autograde", ASSIGNMENT)
        with Gradebook(db_url, course_id="bench") as gradebook:
            scores = {f"s{n}": gradebook.find_submission(ASSIGNMENT, f"s{n}").score
                      for n in range(students)}
    if any(score != FULL for score in scores.values()):
        fail(f"nbgrader gave {scores}, not {FULL} each", said)
    return seconds, start_up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=4, help="submissions per batch (4)")
    args = parser.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # see reap_orphans
    n = args.students

    sandboxed(1)  # warm-up, not counted
    batch, peak = sandboxed(n)
    boxed = [seconds / n for seconds in batch]
    plain_nbgrader(1)  # warm-up, not counted
    batch, start_up = plain_nbgrader(n)
    whole = [seconds / n for seconds in batch]
    plain = [(seconds - once) / n for seconds, once in zip(batch, start_up)]

    print(f"{n} correct submissions of {SOURCE.name} per grader, {FULL:g}/{FULL:g} each; "
          "per submission:")
    print(f"{'grader':<44} {'wall s':>7} {'x plain':>8} {'CPU s':>7} {'x plain':>8}")
    for name, (wall, cpu) in [("plain nbgrader autograde, less its start-up", plain),
                              ("plain nbgrader autograde, whole command", whole),
                              ("labkit sandboxed (bubblewrap), grade_all", boxed)]:
        print(f"{name:<44} {wall:7.2f} {wall / plain[0]:8.2f} {cpu:7.2f} {cpu / plain[1]:8.2f}")
    print(f"nbgrader's start-up, once per command: {start_up[0]:.2f} s wall, "
          f"{start_up[1]:.2f} s CPU")
    print(f"sandbox peak memory: {peak / 1024:.0f} MiB resident in its largest single process "
          "(ru_maxrss), not the sum of its processes" if peak else "sandbox peak memory: unknown "
          "(bwrap waited for its sandbox's processes itself; see reap_orphans)")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
