"""Load: notebook 04's triager as a service (examples/triage_load.py) under load, on the
recorded latencies (model time), answered by two model replicas (real HTTP servers on
127.0.0.1) through a least-outstanding balancer.

    python bench/load.py            measure, replaying cassettes/bench_load/ on model time
    python bench/load.py --record   record that cassette from a live model (make cassettes)
    python bench/load.py --check    replay the workload once; fail if a recording is unused

limited    50 requests at once, behind a limit of R requests/s (and a tokens-per-minute limit)
overload   requests arriving at 5 x R a second, behind the same limits and a bounded admission

It prints the overload run, and ends with the summary line:
    load: 50 concurrent, limit R req/s: throughput X req/s (Y x R), lost 0, p95 Z s, max in any 1 s window W
Goals: Y >= 0.9, nothing lost, W <= R; under overload every refused request answered "busy",
and the service never held more than its capacity. A missed goal is named; the exit code is 1.
"""
from __future__ import annotations

import sys

import _recording  # bench/'s own: this script's folder is on the path
import labkit
from labkit.llm.config import REPO_ROOT
from labkit.llm.replicas import Replica
from labkit.patterns.balancing import Balancer

sys.path[:0] = [str(REPO_ROOT / "examples"), str(REPO_ROOT / "examples" / "bugtracker")]
import triage_costs as tc  # noqa: E402  (found on the path above)
import triage_load as tl  # noqa: E402

CASSETTE = "bench_load"
RATE = 4  # requests a second
TOKENS_PER_MINUTE = 40_000
CAPACITY = 8  # requests the service holds at once, running or waiting
REQUESTS = (tc.BUGS * 2)[:50]
OVERLOAD = (tc.BUGS * 3)[:100]


async def both() -> tuple:
    """Both runs in one event loop: a live client's connections belong to their loop."""
    with Replica("replica-1") as first, Replica("replica-2") as second:
        limited = tl.Service(Balancer([first, second]), per_second=RATE,
                             tokens_per_minute=TOKENS_PER_MINUTE)
        calm = await limited.load(REQUESTS)
        guarded = tl.Service(Balancer([first, second]), per_second=RATE,
                             tokens_per_minute=TOKENS_PER_MINUTE, capacity=CAPACITY)
        stormy = await guarded.load(OVERLOAD, arrivals_per_s=5 * RATE)
        return calm, stormy, guarded.most_in_system


def main() -> int:
    parser, _ = _recording.arguments(__doc__, CASSETTE)
    args = parser.parse_args()
    lab = _recording.open_cassette(args, CASSETTE)
    try:
        calm, stormy, most_held = labkit.run(both())
        if args.record or args.check:
            return _recording.exit_code(_recording.unused(lab))
        limited, overload = tl.report(calm, RATE), tl.report(stormy, RATE)
        refusals = [s for s in stormy if s.status == "busy"]
        unexplained = [s for s in refusals if not s.message]  # a refusal says why, and when to retry
        print(f"overload: {len(OVERLOAD)} arriving at {5 * RATE}/s, limit {RATE} req/s, capacity "
              f"{CAPACITY}: {overload['ok']} answered, {len(refusals)} refused busy, "
              f"{overload['lost']} lost, at most {most_held} held at once, throughput "
              f"{overload['throughput req/s']} req/s, max in any 1 s window {overload['most in 1 s']}")
        ratio = limited["throughput req/s"] / RATE
        print(f"load: {len(REQUESTS)} concurrent, limit {RATE} req/s: throughput "
              f"{limited['throughput req/s']:.2f} req/s ({ratio:.2f} x R), lost {limited['lost']}, "
              f"p95 {limited['p95 s']:.2f} s, max in any 1 s window {limited['most in 1 s']}")
        missed = []
        if ratio < 0.9:
            missed.append(f"goal missed: throughput {ratio:.2f} x R, not 0.9 or more")
        if limited["lost"] or overload["lost"]:
            missed.append(f"goal missed: {limited['lost'] + overload['lost']} requests lost")
        if max(limited["most in 1 s"], overload["most in 1 s"]) > RATE:
            missed.append(f"goal missed: a 1 s window held more than {RATE} requests")
        if unexplained or overload["ok"] + len(refusals) != len(OVERLOAD):
            missed.append("goal missed: under overload a request was neither answered nor told busy")
        if most_held > CAPACITY:
            missed.append(f"goal missed: the service held {most_held}, above its capacity {CAPACITY}")
        return _recording.exit_code(missed)
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
