"""Cost: notebook 04's labelled workload (examples/triage_costs.py: 40 bug reports, a severity
and a component each), the baseline against the optimised design, side by side in one run.

    python bench/cost.py            measure, replaying cassettes/bench_cost/ on model time
    python bench/cost.py --record   record that cassette from a live model (make cassettes)
    python bench/cost.py --check    replay the workload once; fail if a recording is unused

baseline   one call per report with the long few-shot prompt, priced as gpt-4o
optimised  the bugtracker's rules first, then the short prompt in batches of 5 (priced as
           gpt-4o-mini), the few-shot prompt for an item that fails validation, all through
           an exact cache (whose hits come only from repeats: this workload has none in a pass)
Success is a task with both answers equal to its labels (intake.TRUTH). It prints each design's
calls, tokens, USD, model seconds and tiers, and ends with the summary line:
    cost: baseline T0 tokens, optimised T1 tokens (-P%), success S0/N -> S1/N
Goal: P >= 50 with S1 >= S0. A missed goal is named, and the exit code is 1.
"""
from __future__ import annotations

import asyncio
import sys
import tempfile

import _recording  # bench/'s own: this script's folder is on the path
import labkit
from labkit.llm.config import REPO_ROOT
from labkit.patterns.cache import ExactCache

sys.path[:0] = [str(REPO_ROOT / "examples"), str(REPO_ROOT / "examples" / "bugtracker")]
import triage_costs as tc  # noqa: E402  (found on the path above)

CASSETTE = "bench_cost"


async def baseline() -> dict:
    return {bug: await tc.few_shot(bug) for bug in tc.BUGS}


async def optimised(cache: ExactCache) -> tuple[dict, dict]:
    return await tc.tiered(tc.BUGS, size=5, cache=cache)


async def measured(design) -> tuple[object, dict]:
    """(what the design returned, what it spent), on model time."""
    labkit.ledger.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await design
    return result, labkit.ledger.totals() | {"model_s": loop.time() - started}


async def both(cache: ExactCache) -> tuple:
    """Both designs in one event loop: a live client's connections belong to their loop."""
    return await measured(baseline()), await measured(optimised(cache))


def line(name: str, spent: dict, right: dict) -> str:
    return (f"{name}: {spent['calls']} calls, {spent['total_tokens']} tokens, "
            f"${spent['cost_usd']:.5f}, {spent['model_s']:.1f} model s, success "
            f"{right['both']}/{len(tc.BUGS)} (severity {right['severity']}, component "
            f"{right['component']})")


def main() -> int:
    parser, _ = _recording.arguments(__doc__, CASSETTE)
    args = parser.parse_args()
    lab = _recording.open_cassette(args, CASSETTE)
    try:
        with tempfile.TemporaryDirectory() as folder:
            cache = ExactCache(folder)
            (base_answers, base), ((best_answers, tiers), best) = labkit.run(both(cache))
            cache.close()
        if args.record or args.check:
            return _recording.exit_code(_recording.unused(lab))
        before, after = tc.score(base_answers), tc.score(best_answers)
        print(line("baseline", base, before))
        print(line("optimised", best, after))
        print("optimised, answers per tier: "
              + ", ".join(f"{tier} {count}" for tier, count in sorted(tiers.items())))
        print(f"optimised, exact cache: {cache.hits} hits of {cache.hits + cache.misses} asks "
              f"({cache.hit_rate():.0%}, the workload's own repeat rate)")
        saved = 1 - best["total_tokens"] / base["total_tokens"]
        print(f"cost: baseline {base['total_tokens']} tokens, optimised {best['total_tokens']} "
              f"tokens (-{saved:.0%}), success {before['both']}/{len(tc.BUGS)} -> "
              f"{after['both']}/{len(tc.BUGS)}")
        missed = []
        if saved < 0.5:
            missed.append(f"goal missed: tokens cut by {saved:.0%}, not 50% or more")
        if after["both"] < before["both"]:
            missed.append("goal missed: the optimised design succeeds on fewer tasks")
        return _recording.exit_code(missed)
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
