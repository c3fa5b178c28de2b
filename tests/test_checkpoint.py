"""Checkpoints: finished steps are never run again, an effect commits with its step, and a run
killed with SIGKILL anywhere resumes with every task done exactly once."""
import asyncio
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from labkit.llm.model_loop import run_on_cells_loop
from labkit.patterns.checkpoint import CheckpointError, RunStore

ROOT = Path(__file__).resolve().parents[1]


def test_a_finished_step_is_skipped_even_in_a_new_session(tmp_path):
    runs = []

    async def triage():
        runs.append("triage")
        return {"severity": "high"}

    first = RunStore(tmp_path / "run.sqlite")
    assert asyncio.run(first.step("BUG-7", "triage", triage)) == {"severity": "high"}
    first.close()

    again = RunStore(tmp_path / "run.sqlite")  # the kernel restarted
    assert asyncio.run(again.step("BUG-7", "triage", triage)) == {"severity": "high"}
    assert runs == ["triage"] and again.skipped == 1
    assert again.output("BUG-7", "triage") == (True, {"severity": "high"})
    assert again.output("BUG-7", "route") == (False, None)
    assert again.done() == {("BUG-7", "triage"): {"severity": "high"}}


def test_an_effect_commits_with_its_step_or_not_at_all(tmp_path):
    store = RunStore(tmp_path / "run.sqlite")
    store.db.execute("CREATE TABLE tickets (task TEXT)")

    def file_ticket(db):
        db.execute("INSERT INTO tickets VALUES ('BUG-7')")

    def file_then_fail(db):
        file_ticket(db)
        raise RuntimeError("the tracker went away")

    with pytest.raises(RuntimeError):
        store.record("BUG-7", "file", {"title": "Crash on save"}, effect=file_then_fail)
    assert store.done() == {}
    assert store.db.execute("SELECT COUNT(*) FROM tickets").fetchone() == (0,)

    store.record("BUG-7", "file", {"title": "Crash on save"}, effect=file_ticket)
    assert store.done() == {("BUG-7", "file"): {"title": "Crash on save"}}
    assert store.db.execute("SELECT COUNT(*) FROM tickets").fetchone() == (1,)


def test_a_step_hands_its_output_to_the_effect(tmp_path):
    store = RunStore(tmp_path / "run.sqlite")
    store.db.execute("CREATE TABLE tickets (title TEXT)")

    async def write():
        return "Crash on save"

    def filing(title):
        return lambda db: db.execute("INSERT INTO tickets VALUES (?)", (title,))

    asyncio.run(store.step("BUG-7", "write", write, effect=filing))
    asyncio.run(store.step("BUG-7", "write", write, effect=filing))  # done: no second ticket
    assert store.db.execute("SELECT * FROM tickets").fetchall() == [("Crash on save",)]


def test_once_runs_an_effect_once_per_key(tmp_path):
    store = RunStore(tmp_path / "run.sqlite")
    pages = []

    def page():
        pages.append("page")
        return {"paged": len(pages)}

    assert store.once("page:BUG-7", page) == {"paged": 1}
    assert store.once("page:BUG-7", page) == {"paged": 1}
    assert RunStore(tmp_path / "run.sqlite").once("page:BUG-7", page) == {"paged": 1}
    assert store.once("page:BUG-8", page) == {"paged": 2}
    assert pages == ["page", "page"]


def test_a_store_made_in_one_thread_works_in_another(tmp_path):
    """In a notebook, a cell that awaits runs in labkit's model-time thread, not the kernel's."""
    store = RunStore(tmp_path / "run.sqlite")

    async def triage():
        return "high"

    assert run_on_cells_loop(store.step("BUG-7", "triage", triage)) == "high"
    assert store.done() == {("BUG-7", "triage"): "high"}


def test_a_corrupt_file_says_what_to_do(tmp_path):
    path = tmp_path / "run.sqlite"
    path.write_bytes(b"\x00garbage, not a database\xff" * 200)

    with pytest.raises(CheckpointError, match="run.sqlite is not a run's checkpoint") as raised:
        RunStore(path)
    assert "delete it to start the run from the beginning" in str(raised.value)


# Killed with SIGKILL, then resumed ----------------------------------------------------------

TASKS, STEPS = 5, ("triage", "route", "file")
ALL_STEPS = {(f"BUG-{task}", step) for task in range(TASKS) for step in STEPS}

# A run of TASKS tasks of three steps; the last one files a ticket, in the same transaction.
# It logs each step it runs to a file (opened for each line: nothing waits in a buffer), and
# prints it. Argument 3 says where it kills itself: "run" (a step ran, not yet recorded),
# "effect" (the ticket is inserted, not yet committed), "recorded" (just after a commit),
# once it has run argument 4 steps; "never" to finish.
CHILD = f"""
import asyncio, os, signal, sys, time
from labkit.patterns.checkpoint import RunStore

db, log, kill_where, kill_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = RunStore(db)
store.db.execute("CREATE TABLE IF NOT EXISTS tickets (task TEXT)")  # no key: a twin would show
ran = 0

def maybe_die(where):
    if where == kill_where and ran >= kill_after:
        os.kill(os.getpid(), signal.SIGKILL)

async def main():
    for task in [f"BUG-{{i}}" for i in range({TASKS})]:
        for step in {STEPS!r}:
            async def run():
                global ran
                ran += 1
                with open(log, "a") as file:
                    file.write(f"{{task}} {{step}}\\n")
                print(task, step, flush=True)
                time.sleep(0.05)  # a model call's worth of time, for a kill from outside
                maybe_die("run")
                return f"{{step}} of {{task}}"

            def filing(output):
                def file_ticket(db):
                    db.execute("INSERT INTO tickets VALUES (?)", (task,))
                    maybe_die("effect")
                return file_ticket

            await store.step(task, step, run, filing if step == "file" else None)
            maybe_die("recorded")

asyncio.run(main())
"""


def child(db, log, kill_where="never", kill_after=0):
    return [sys.executable, "-c", CHILD, str(db), str(log), kill_where, str(kill_after)]


def run_child(*args, expect):
    ended = subprocess.run(child(*args), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert ended.returncode == expect, ended.stderr
    return ended


def finished(db):
    store = RunStore(db)  # opening it rolls back what a killed run left uncommitted
    try:
        return set(store.done())
    finally:
        store.close()


def tickets(db):
    store = RunStore(db)
    try:
        return Counter(task for task, in store.db.execute("SELECT task FROM tickets"))
    finally:
        store.close()


def logged(log):
    return [tuple(line.split()) for line in log.read_text().splitlines()] if log.exists() else []


def resume_and_check(tmp_path):
    """Resume a killed run to its end; check no finished step ran again, none was lost, and
    every ticket was filed once."""
    db = tmp_path / "run.sqlite"
    before = finished(db)
    run_child(db, tmp_path / "resumed.log", expect=0)

    rerun = logged(tmp_path / "resumed.log")
    assert not before & set(rerun)  # no finished step ran again
    assert len(rerun) == len(set(rerun))  # nor any step twice after the kill
    assert before | set(rerun) == ALL_STEPS == finished(db)
    assert tickets(db) == Counter(f"BUG-{task}" for task in range(TASKS))


@pytest.mark.parametrize("kill_where, kill_after, steps_done", [
    ("run", 1, 0),       # the very first step ran, and was never recorded
    ("run", 5, 4),
    ("effect", 3, 2),    # inside the first ticket's transaction, before its commit
    ("effect", 7, 8),    # inside the third ticket's
    ("recorded", 6, 6),  # just after a commit
])
def test_a_run_killed_anywhere_resumes_with_each_task_done_once(tmp_path, kill_where,
                                                                  kill_after, steps_done):
    db = tmp_path / "run.sqlite"
    run_child(db, tmp_path / "killed.log", kill_where, kill_after, expect=-signal.SIGKILL)
    assert len(finished(db)) == steps_done
    assert sum(tickets(db).values()) == steps_done // 3  # no ticket without its step

    resume_and_check(tmp_path)


def test_a_run_killed_from_outside_resumes_with_each_task_done_once(tmp_path):
    with subprocess.Popen(child(tmp_path / "run.sqlite", tmp_path / "killed.log"), cwd=ROOT,
                          stdout=subprocess.PIPE, text=True) as killed:
        for _ in range(7):  # it has started its seventh step
            killed.stdout.readline()
        killed.send_signal(signal.SIGKILL)
        assert killed.wait(timeout=60) == -signal.SIGKILL
    assert 6 <= len(finished(tmp_path / "run.sqlite")) < len(ALL_STEPS)

    resume_and_check(tmp_path)


def test_a_run_killed_again_and_again_still_files_each_ticket_once(tmp_path):
    db, places = tmp_path / "run.sqlite", ["effect", "run", "recorded"]
    for kill in range(len(ALL_STEPS)):
        log, before = tmp_path / f"run{kill}.log", finished(db)
        ended = subprocess.run(child(db, log, places[kill % 3], 3), cwd=ROOT, capture_output=True)
        assert ended.returncode in (0, -signal.SIGKILL), ended.stderr
        assert not before & set(logged(log))  # no finished step ran again
        if ended.returncode == 0:
            break

    assert kill >= 3  # killed several times before it could finish
    assert finished(db) == ALL_STEPS
    assert tickets(db) == Counter(f"BUG-{task}" for task in range(TASKS))
