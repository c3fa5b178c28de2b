"""What the sandbox costs: seconds per submission through our sandboxed grader, its verdicts
decided out of the kernel, against plain nbgrader autograde. One run, figures side by side.

    python bench/grade_throughput.py [--students N]

For notebooks 00 and 02, both graders get the same N distinct submissions (default 8): each
has the instructor's solutions with a comment of its own, and every third leaves one exercise
as released, so scores differ. Both must give the same score to each, or the script says why
and exits 1: `grade.grade_all` (default `sandbox.Limits()`, a bubblewrap sandbox and a checker
process per submission; the checker's time is inside) in this process, its imports done before
the clock starts; and the `nbgrader autograde` command, no sandbox, in a throwaway course,
less its start-up (an autograde with nothing submitted). CPU seconds stand beside wall seconds.

Warm caches: each grader grades a warm-up submission, not counted, right before its measured
batch, so both batches start with the venv's files in the page cache.

Ends with: grade: 00 sandboxed X s, nbgrader Y s per submission (R x); 02 sandboxed X2 s,
nbgrader Y2 s (R2 x)
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

from labkit.grading import grade
from labkit.patterns import sandbox
from labkit.grading.release import student_version

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = [REPO / "notebooks" / f"{stem}.ipynb" for stem in ("00_setup", "02_collaboration_patterns")]
ASSIGNMENT = "ps0"
PR_SET_CHILD_SUBREAPER = 36


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def submission(source: nbformat.NotebookNode, released: nbformat.NotebookNode,
               number: int) -> nbformat.NotebookNode:
    """Student `number`'s notebook: the instructor's solutions, each marked as theirs; every
    third student leaves the first exercise as released (a stub), so it scores less."""
    answers = {meta(c)["grade_id"]: c.source for c in source.cells if meta(c).get("solution")}
    skipped = next(iter(answers)) if number % 3 == 2 else None
    for cell in released.cells:
        grade_id = meta(cell).get("grade_id")
        if meta(cell).get("solution") and grade_id != skipped:
            cell.source = f"{answers[grade_id]}\n# submitted by student {number}"
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


def sandboxed(path: Path, students: range) -> tuple[list[float], int, dict[str, float]]:
    """(wall, CPU) seconds for grade_all to grade these students' submissions, the peak
    resident memory, in KiB, of the largest single process in any of their sandboxes, and
    each student's score."""
    source = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        for number in students:
            (student := Path(folder) / f"s{number}").mkdir()
            nbformat.write(submission(source, student_version(source), number), student / path.name)
        started = clock()
        with contextlib.redirect_stdout(io.StringIO()):  # a line per submission
            rows = grade.grade_all(Path(folder), sandbox.Limits(), notebooks=[path])
        # ru_maxrss of a reaped tree: its largest single process's peak, not the tree's sum.
        peak = max((used.ru_maxrss for used in reap_orphans()), default=0)
        seconds = since(started)
    scores = {f"s{number}": 0.0 for number in students}
    for row in rows:
        scores[row.student] += row.points
    return seconds, peak, scores


def plain_nbgrader(path: Path, students: range) -> tuple[list[float], list[float], dict[str, float]]:
    """(wall, CPU) seconds for `nbgrader autograde` to grade these students' submissions, no
    sandbox; the same for the command with nothing to grade (its start-up); each score."""
    source = nbformat.read(path, as_version=4)
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
        shutil.copy(path, root / "source" / ASSIGNMENT)
        nbgrader("generate_assignment", ASSIGNMENT)
        # Start-up: an autograde with nothing submitted yet, which nbgrader ends with exit 1.
        start_up, _ = nbgrader("autograde", ASSIGNMENT, check=False)
        released = root / "release" / ASSIGNMENT / path.name  # with nbgrader's checksums
        for number in students:
            submitted = root / "submitted" / f"s{number}" / ASSIGNMENT / path.name
            submitted.parent.mkdir(parents=True)
            nbformat.write(submission(source, nbformat.read(released, as_version=4), number),
                           submitted)
        seconds, _ = nbgrader("autograde", ASSIGNMENT)
        with Gradebook(db_url, course_id="bench") as gradebook:
            scores = {f"s{n}": gradebook.find_submission(ASSIGNMENT, f"s{n}").score
                      for n in students}
    return seconds, start_up, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=8, help="submissions per notebook (8)")
    args = parser.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # see reap_orphans
    n, warm_up, batch = args.students, range(1000, 1001), range(args.students)
    summary = []
    print(f"{n} distinct submissions per notebook and grader; per submission:")
    print(f"{'notebook':<28} {'grader':<34} {'wall s':>7} {'CPU s':>7}")
    for path in NOTEBOOKS:
        sandboxed(path, warm_up)
        boxed_batch, peak, boxed_scores = sandboxed(path, batch)
        plain_nbgrader(path, warm_up)
        plain_batch, start_up, plain_scores = plain_nbgrader(path, batch)
        if boxed_scores != plain_scores:
            fail(f"{path.stem}: the graders disagree", f"sandboxed {boxed_scores}\n"
                                                       f"nbgrader  {plain_scores}")
        boxed = [seconds / n for seconds in boxed_batch]
        plain = [(seconds - once) / n for seconds, once in zip(plain_batch, start_up)]
        for name, (wall, cpu) in [("nbgrader autograde, less start-up", plain),
                                  ("labkit sandboxed, checker outside", boxed)]:
            print(f"{path.stem:<28} {name:<34} {wall:7.2f} {cpu:7.2f}")
        print(f"{'':<28} scores agree: {sorted(boxed_scores.values())}; sandbox peak "
              f"{peak / 1024:.0f} MiB (largest process); nbgrader start-up {start_up[0]:.2f} s")
        summary.append((path.stem[:2], boxed[0], plain[0]))
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    (a, x, y), (b, x2, y2) = summary
    print(f"grade: {a} sandboxed {x:.2f} s, nbgrader {y:.2f} s per submission ({x / y:.2f} x); "
          f"{b} sandboxed {x2:.2f} s, nbgrader {y2:.2f} s ({x2 / y2:.2f} x)")


if __name__ == "__main__":
    main()
