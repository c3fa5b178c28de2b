"""Faults under recovery: 200 tasks of examples/intake.py's three-agent pipeline at fault rates
0, 10, 30, 50 and 100 %, replayed on model time (fast, deterministic); then the pipeline killed
with kill -9 at K points and resumed from its checkpoints. One run.

    python bench/faults.py            measure, replaying cassettes/bench_faults/
    python bench/faults.py --record   record that cassette from a live model (make cassettes)
    python bench/faults.py --check    replay the workload once; fail if a recording is unused

A task is completed only when its output equals its report's output with no faults; escalated
and dead-lettered count as such; still running at its bound, hung; anything else, lost. Each
rate's line also gives the HTTP requests sent, the tokens spent beyond what its completed tasks
cost with no faults, and the model seconds it took.
Goals: all completed at 30%; at 100% all escalated or dead-lettered; a kill loses and repeats
nothing. A missed goal is named, and the exit code is 1.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter

import httpx2
from vcr.errors import CannotOverwriteExistingCassetteException

import _recording  # bench/'s own: this script's folder is on the path
import labkit
from labkit.llm import cassettes
from labkit.llm.clock import session_clock
from labkit.llm.config import REPO_ROOT
from labkit.patterns.checkpoint import RunStore
from labkit.patterns.faults import KINDS, Faults

sys.path[:0] = [str(REPO_ROOT / "examples"), str(REPO_ROOT / "examples" / "bugtracker")]
import intake  # noqa: E402  (found on the path above)

CASSETTE = "bench_faults"
RATES = [0.0, 0.1, 0.3, 0.5, 1.0]
REPORT_IDS = list(intake.REPORTS)[:20]
TASKS = [(f"T{i + 1:03d}", REPORT_IDS[i % 20]) for i in range(200)]
AT_ONCE = 8
SEED = 3
# When every answer fails (100%), a step's two model tiers each give up after 4 attempts of at
# most 30 s (intake.CALL_TIMEOUT_S) with waits of at most 20 s (its backoff's cap) between:
# 3 steps x 2 tiers x 180 s = 1080 s (the slowest here takes under 300 s). A task still
# running after 1200 s is stuck, not slow.
TASK_BOUND_S = 1200.0
KILL_TASKS, KILL_RATE, KILL_POINTS_PER_KIND = TASKS[:20], 0.3, 3  # one task per report


async def run_tasks(run: intake.Run, tasks: list[tuple[str, str]]) -> dict[str, dict | None]:
    """Each task's result, AT_ONCE at a time; None for a task still running at its bound."""
    slots = asyncio.Semaphore(AT_ONCE)

    async def bounded(task: str, report: str) -> dict | None:
        async with slots:  # the bound starts with the task, not while it waits for a slot
            try:
                async with asyncio.timeout(TASK_BOUND_S):
                    return await intake.run_task(run, task, report)
            except TimeoutError:
                return None

    results = await asyncio.gather(*(bounded(task, report) for task, report in tasks))
    return {task: result for (task, _), result in zip(tasks, results)}


async def run_rate(rate: float) -> tuple[dict, Faults, float]:
    """(each task's result, the fault plan, model seconds) for TASKS at one fault rate."""
    plan, loop = Faults(rate, seed=SEED), asyncio.get_running_loop()
    started = loop.time()  # model time: on a replay at speed 0, backoffs and timeouts are free
    with labkit.override(faults=plan):  # checkpoints in memory: nothing is killed here
        results = await run_tasks(intake.Run(intake.Layers(), ":memory:"), TASKS)
    return results, plan, loop.time() - started


def outcome(result: dict | None, fault_free_output: dict) -> str:
    if result is None:
        return "hung"
    if result["status"] == "completed":
        return "completed" if result["output"] == fault_free_output else "lost"
    return result["status"] if result["status"] in ("escalated", "dead letter") else "lost"


def measure_rates() -> tuple[list[str], list[str]]:
    """(the lines to print, the goals missed) over RATES, the fault-free one first."""
    lines, missed, injected, fault_free = [], [], Counter(), {}
    for rate in RATES:
        labkit.ledger.clear()
        results, plan, seconds = labkit.run(run_rate(rate))
        # The ledger holds the replies that arrived: the tokens of a dropped connection or of
        # a body cut off were spent too, so the tokens wasted are a floor.
        tokens = labkit.ledger.totals()["total_tokens"]
        if rate == 0:
            cost_per_task = tokens / len(TASKS)
            for task, report in TASKS:
                fault_free.setdefault(report, results[task] and results[task]["output"])
        injected += plan.counts()
        count = Counter(outcome(results[task], fault_free[report]) for task, report in TASKS)
        wasted = tokens - round(cost_per_task * count["completed"])
        lines.append(f"faults {rate:.0%}: {count['completed']}/{len(TASKS)} completed, "
                     f"{count['lost']} lost, {count['hung']} hung, {count['escalated']} escalated, "
                     f"{count['dead letter']} dead-lettered, {plan.requests} requests, "
                     f"{wasted} tokens wasted, {seconds:.0f} model s")
        if rate == 0.3 and count["completed"] < len(TASKS):
            missed.append(f"goal missed: at 30%, {len(TASKS) - count['completed']} task(s) "
                          "not completed")
        if rate == 1 and count["escalated"] + count["dead letter"] < len(TASKS):
            missed.append(f"goal missed: at 100%, {count['completed']} completed, "
                          f"{count['lost']} lost and {count['hung']} hung, not escalated or "
                          "dead-lettered")
    kinds = ", ".join(f"{name} {injected[name]} ({kind.fault_class})" for name, kind in KINDS.items())
    return [f"kinds injected: {kinds}", *lines], missed


# The kill test ----------------------------------------------------------------------------

class Killed(BaseException):
    """kill -9 in-process (--record and --check make the kill test's requests in their own
    session); a BaseException, which no `except Exception` of the pipeline catches."""


async def kill_run(path: str, log: str, kill_at: int, die) -> dict:
    """KILL_TASKS, checkpointed in the SQLite file `path`, calling `die()` at the `kill_at`-th
    point: a step's commit, or the moment in the last step's ticket insert before its commit.
    Logs each step whose work ran (not read from the checkpoint). Returns each task's
    [status, output], and the kind of each point passed."""
    run = intake.Run(intake.Layers(), path)
    points, record = [], run.store.record

    def point(kind: str) -> None:
        points.append(kind)
        if len(points) == kill_at:
            die()

    def record_at_points(task, step, output, effect=None):
        if 0 < kill_at <= len(points):
            die()  # in-process, the other tasks run on for a moment: none may commit
        with open(log, "a") as file:  # a line at a time, on disk at once: a kill keeps it
            file.write(f"{task} {step}\n")
            file.flush()
            os.fsync(file.fileno())

        def effect_then_point(db):
            effect(db)
            point("ticket")  # the ticket row is written; its transaction is not committed yet

        record(task, step, output, effect and effect_then_point)
        point("step")

    # This run's store only, not the class: store.step calls self.record, so each step passes
    # the points, and intake and labkit stay as they are.
    run.store.record = record_at_points
    with labkit.override(faults=Faults(KILL_RATE, seed=SEED)):
        results = await run_tasks(run, KILL_TASKS)
    return {"results": {task: result and [result["status"], result["output"]]
                        for task, result in results.items()}, "points": points}


def child_process(path: str, log: str, kill_at: int) -> dict | None:
    """A kill run in a process of its own; None if it died by SIGKILL."""
    child = subprocess.run([sys.executable, __file__, "--child", path, "--log", log,
                            "--kill-at", str(kill_at)], capture_output=True, text=True,
                           env=os.environ | {"LABKIT_BACKEND": "replay", "LABKIT_REPLAY_SPEED": "0"})
    if child.returncode == -signal.SIGKILL:
        return None
    result = json.loads(child.stdout.splitlines()[-1]) if child.returncode == 0 else {}
    if not result or result["misses"]:
        raise SystemExit(f"A kill test's run failed: {child.stdout[-300:]}{child.stderr[-300:]}")
    return result


def in_process(path: str, log: str, kill_at: int) -> dict | None:
    def die():
        raise Killed
    session_clock.restart(virtual=True)  # from model second 0, as in a process of its own
    try:
        return labkit.run(kill_run(path, log, kill_at, die))
    except Killed:
        return None


def kill_points(kinds: list[str]) -> list[int]:
    """KILL_POINTS_PER_KIND points of each kind, spread over the run, counted from 1."""
    chosen = []
    for kind in ("step", "ticket"):
        at = [n for n, passed in enumerate(kinds, 1) if passed == kind]
        chosen += [at[len(at) * i // (KILL_POINTS_PER_KIND + 1)]
                   for i in range(1, KILL_POINTS_PER_KIND + 1)]
    return sorted(chosen)


def committed(path: str) -> tuple[set, int, int]:
    """(the steps committed, write steps with no ticket, tickets beyond one per task or with
    no write step)."""
    store, written = RunStore(path), "(SELECT task FROM steps WHERE step = 'write')"
    missing, extra = store.db.execute(
        f"SELECT (SELECT COUNT(*) FROM {written} WHERE task NOT IN (SELECT task FROM tickets)),"
        f" (SELECT COUNT(*) - COUNT(DISTINCT task) FROM tickets)"
        f" + (SELECT COUNT(*) FROM tickets WHERE task NOT IN {written})").fetchone()
    steps = set(store.done())
    store.close()
    return steps, missing, extra


def kill_test(folder: str, run_child) -> tuple[int, int, int]:
    """(kill points, steps lost, steps redone): a run killed at each point, then resumed."""
    reference = run_child(f"{folder}/reference.sqlite", f"{folder}/reference.log", 0)
    points, lost, redone = kill_points(reference["points"]), 0, 0
    for n in points:
        path, killed_log, resumed_log = (f"{folder}/kill{n}{end}"
                                         for end in (".sqlite", ".log", "-resumed.log"))
        if run_child(path, killed_log, n) is not None:
            raise SystemExit(f"The kill test's run ended before its kill point {n}.")
        before, _, _ = committed(path)
        resumed = run_child(path, resumed_log, 0)
        after, missing_tickets, extra_tickets = committed(path)
        unfinished = sum(result[0] == "completed" and resumed["results"][task] != result
                         for task, result in reference["results"].items() if result)
        with open(resumed_log) as file:
            repeated = sum(tuple(line.split()) in before for line in file)
        lost += len(before - after) + unfinished + missing_tickets
        redone += repeated + extra_tickets
    return len(points), lost, redone


# Where requests meet the cassette ---------------------------------------------------------

class AskOnce(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Over the sync transport vcrpy records and replays at, in place of both session
    transports' `inner`: each distinct request is asked once, of the model when recording (so
    the cassette holds it once) or of the cassette when replaying, and a repeat gets a copy of
    the answer (the model answers a request the same way each time: temperature 0, a seed).
    A live call blocks the loop, so it takes no model time; its answer then takes its recorded
    latency, as on a replay: the recording is the very run the replays repeat. Requests the
    cassette has no recording for are counted: the pipeline would take each for a fault."""

    def __init__(self, inner: httpx2.BaseTransport, cassette) -> None:
        self.inner, self.cassette, self.answers, self.misses = inner, cassette, {}, 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.content not in self.answers:
            try:
                response = self.inner.handle_request(request)
            except CannotOverwriteExistingCassetteException:
                self.misses += 1
                raise
            headers = {name: value for name, value in response.headers.items()
                       if name.lower() in cassettes.KEPT_RESPONSE_HEADERS}  # as a replay has
            if cassettes.LATENCY_HEADER not in headers:  # just recorded: vcrpy timed its copy
                headers[cassettes.LATENCY_HEADER] = self.cassette.data[-1][1]["headers"][
                    cassettes.LATENCY_HEADER][0]
            self.answers[request.content] = (response.status_code, headers, response.read())
        status, headers, content = self.answers[request.content]
        return httpx2.Response(status, headers=headers, content=content, request=request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return self.handle_request(request)


def main() -> int:
    parser, mode = _recording.arguments(__doc__, CASSETTE)
    mode.add_argument("--child", help=argparse.SUPPRESS)  # a kill test's run: its SQLite file
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--kill-at", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    lab = _recording.open_cassette(args, CASSETTE)
    ask_once = AskOnce(lab.clients.transports[0].inner, lab.cassette)
    for transport in lab.clients.transports:
        transport.inner = ask_once
    session_clock.virtual = True  # recording too: on model time, as the replays (see AskOnce)
    try:
        if args.child:
            result = labkit.run(kill_run(args.child, args.log, args.kill_at,
                                         die=lambda: os.kill(os.getpid(), signal.SIGKILL)))
            print(json.dumps(result | {"misses": ask_once.misses}))
            return 0
        lines, problems = measure_rates()
        with tempfile.TemporaryDirectory() as folder:
            if args.record or args.check:
                kill_test(folder, in_process)  # its runs' requests too, in this session
                problems = _recording.unused(lab)
            else:
                print(*lines, sep="\n", flush=True)
                points, lost, redone = kill_test(folder, child_process)
                print(f"resume after kill -9: {points} kill points, {lost} steps lost, "
                      f"{redone} redone")
                if lost or redone:
                    problems.append("goal missed: the kill test lost or repeated work")
        if ask_once.misses:
            problems.append(f"{ask_once.misses} request(s) had no recording: this is not the "
                            "recorded run (re-record: --record)")
        return _recording.exit_code(problems)
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
