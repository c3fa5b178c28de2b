"""Throughput: requests a second with no burst, tokens a minute in a sliding window, and
admission that refuses at once when full. Every test runs on a virtual clock: minutes of
waiting take no wall time."""
import asyncio
import bisect
import itertools
import math
import random
import threading

import pytest
from aiolimiter import AsyncLimiter

from labkit.llm.chat import request_for
from labkit.llm.clock import ModelClock
from labkit.llm.model_loop import run
from labkit.patterns.throughput import (Admission, Busy, TokensPerMinute, estimate_tokens,
                                        requests_per_second)

TOLERANCE = 1e-9  # seconds: float error in the clock's sums, not a burst


def on_model_time(coroutine, wall_seconds=20):
    """Run on a fresh virtual clock; fail, not hang, if the loop spins without moving it."""
    outcome = {}

    def target():
        try:
            outcome["value"] = run(coroutine, clock=ModelClock(virtual=True))
        except BaseException as error:  # noqa: BLE001 -- handed back to the test below
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(wall_seconds)
    assert not thread.is_alive(), f"no end after {wall_seconds} s of wall time: the loop spins"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def most_in_a_window(times, width):
    """The most acquisitions any half-open window [t, t + width) holds; every acquisition
    time is tried as the window's start (a window holding most starts at one of them)."""
    times = sorted(times)
    return max(bisect.bisect_left(times, start + width - TOLERANCE) - i
               for i, start in enumerate(times))


def most_tokens_in_a_window(log, width):
    """The most tokens any half-open window [t, t + width) holds, from (time, tokens) pairs."""
    log = sorted(log)
    times = [at for at, _ in log]
    ends = [bisect.bisect_left(times, start + width - TOLERANCE) for start in times]
    return max(sum(tokens for _, tokens in log[i:end]) for i, end in enumerate(ends))


# Requests per second ----------------------------------------------------------------------

async def acquire_all(limiter, count, seed):
    """`count` callers at once, each holding its "request" for a random model-time while."""
    loop, rng, times = asyncio.get_running_loop(), random.Random(seed), []

    async def caller():
        async with limiter:
            times.append(loop.time())
        await asyncio.sleep(rng.uniform(0.05, 3.0))  # the request, after the limiter let it out

    await asyncio.gather(*(caller() for _ in range(count)))
    return times


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_requests_per_second_has_no_burst_and_keeps_the_rate(seed):
    async def main():
        return await acquire_all(requests_per_second(5), 200, seed)

    times = on_model_time(main())

    assert len(times) == 200
    assert most_in_a_window(times, 1.0) <= 5
    assert 200 / 5 - 1 <= max(times) <= 200 / 5  # one every 0.2 s from 0: the rate, not less


def test_a_bucket_of_the_whole_rate_would_burst():
    """Why requests_per_second is not AsyncLimiter(rate, 1): that lets 5 through at once."""
    async def main():
        limiter, loop = AsyncLimiter(5, 1), asyncio.get_running_loop()
        for _ in range(5):
            await limiter.acquire()
        return loop.time(), limiter.has_capacity()

    at, more_at_once = on_model_time(main())

    assert at == 0.0 and not more_at_once  # 5 at t=0, and the 6th comes 0.2 s later


def test_a_fractional_rate_spaces_requests_by_its_inverse():
    async def main():
        return await acquire_all(requests_per_second(2.5), 30, seed=3)

    times = sorted(on_model_time(main()))

    assert min(b - a for a, b in itertools.pairwise(times)) >= 1 / 2.5 - TOLERANCE
    assert most_in_a_window(times, 2.0) <= 5  # 2.5 a second, over any 2 s


def test_requests_per_second_keeps_a_late_start_and_many_calls_exact():
    """Late model times (large floats) and long runs: no spin, no early request."""
    async def main():
        await asyncio.sleep(123_456.789)
        return await acquire_all(requests_per_second(7), 700, seed=4)

    times = on_model_time(main())

    assert most_in_a_window(times, 1.0) <= 7
    assert max(times) - min(times) == pytest.approx(699 / 7, abs=1e-6)


@pytest.mark.parametrize("rate", [0, -1, -0.5, float("nan"), float("inf"), "5", None, True])
def test_requests_per_second_refuses_a_rate_that_is_no_limit(rate):
    with pytest.raises(ValueError, match=r"rate=.*positive number of requests per second"):
        requests_per_second(rate)


# Tokens per minute ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tokens_per_minute_keeps_every_window_under_the_limit(seed):
    limit, rng = 10_000, random.Random(seed)
    plan = [(rng.uniform(0, 30), rng.randint(200, 2_000), rng.uniform(0.3, 1.0),
             rng.uniform(0.5, 8.0)) for _ in range(200)]  # arrival, estimate, share, duration

    async def main():
        tpm, log = TokensPerMinute(limit), []

        async def call(arrives, estimate, share, duration):
            await asyncio.sleep(arrives)
            async with tpm.reserve(estimate) as spend:
                await asyncio.sleep(duration)
                spend.settle(int(estimate * share))  # below the estimate, as estimates are
            log.append((spend.at, spend.tokens))

        await asyncio.gather(*(call(*p) for p in plan))
        return log

    log = on_model_time(main())
    spent = sum(tokens for _, tokens in log)
    last = max(at for at, _ in log)

    assert len(log) == 200
    assert most_tokens_in_a_window(log, 60.0) <= limit
    # No window holds more than the limit, so the run needs at least this long ...
    assert last >= (spent / limit - 1) * 60
    # ... and it keeps near the limit: windows run nearly full, and the run is not much longer.
    assert most_tokens_in_a_window(log, 60.0) >= 0.95 * limit
    assert last <= (spent / limit) * 60 * 1.25  # 1.1 measured: estimates held while in flight


def test_waiters_are_served_first_come_first_served():
    """A reservation of the whole limit waits for an empty window; the small ones that come
    after it wait behind it, though they would fit sooner, so it is never starved."""
    async def main():
        tpm, loop, granted = TokensPerMinute(1_000), asyncio.get_running_loop(), []

        async def call(name, arrives, tokens):
            await asyncio.sleep(arrives)
            async with tpm.reserve(tokens) as spend:
                granted.append((name, spend.at))

        calls = [call(f"small {i}", i * 1.0, 100) for i in range(200)]
        calls.append(call("big", 5.5, 1_000))
        await asyncio.gather(*calls)
        return granted, loop.time()

    granted, _ = on_model_time(main())
    order = [name for name, _ in granted]
    at = dict(granted)

    assert order[:6] == [f"small {i}" for i in range(6)]  # 0..5 s, before the big one asked
    assert order[6] == "big"
    assert at["big"] == pytest.approx(5 + 60)  # when the last small one before it expires
    assert [int(name.split()[1]) for name in order if name != "big"] == list(range(200))


def test_a_settle_below_the_estimate_frees_room_at_once():
    async def main():
        tpm, loop = TokensPerMinute(1_000), asyncio.get_running_loop()

        async def first():
            async with tpm.reserve(1_000) as spend:
                await asyncio.sleep(2)
                spend.settle(300)

        async def second():
            await asyncio.sleep(1)
            async with tpm.reserve(600):
                return loop.time()

        _, second_at = await asyncio.gather(first(), second())
        return second_at

    assert on_model_time(main()) == pytest.approx(2.0)  # not 60: 300 + 600 fit at once


def test_no_settle_keeps_the_estimate_and_a_higher_actual_counts():
    async def main():
        tpm, loop, at = TokensPerMinute(1_000), asyncio.get_running_loop(), []
        with pytest.raises(RuntimeError):
            async with tpm.reserve(800):
                raise RuntimeError("the call failed")  # its reservation still counts
        async with tpm.reserve(300):  # 800 + 300 > 1000: waits for the 800 to leave
            at.append(loop.time())
        async with tpm.reserve(100) as spend:
            spend.settle(900)  # the reply took more than estimated: 300 + 900 counted
        async with tpm.reserve(100):
            at.append(loop.time())
        return at

    failed_counted_until, over_counted_until = on_model_time(main())

    assert failed_counted_until == pytest.approx(60.0)
    assert over_counted_until == pytest.approx(120.0)


@pytest.mark.parametrize("settings, message", [
    ({"limit": 0}, "limit=0: a tokens-per-minute limit needs a positive"),
    ({"limit": -5}, "limit=-5"),
    ({"limit": 1_000, "window_s": 0}, "window_s=0: the window needs a positive"),
])
def test_tokens_per_minute_refuses_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        TokensPerMinute(**settings)


def test_a_reservation_above_the_limit_is_refused_at_once():
    tpm = TokensPerMinute(1_000)

    with pytest.raises(ValueError, match="could never fit: raise the limit or split the request"):
        tpm.reserve(1_001)  # at the call: no loop, no wait
    with pytest.raises(ValueError, match="n=-1: tokens are a whole number"):
        tpm.reserve(-1)


# Estimating a request's tokens --------------------------------------------------------------

def test_the_estimate_counts_the_prompt_the_template_and_all_of_max_tokens():
    prompt = "Triage this bug report: the export button crashes the app. " * 10
    request = request_for(prompt, model="any", system="You triage bugs.", max_tokens=200)
    characters = len(prompt) + len("You triage bugs.")

    estimate = estimate_tokens(request)

    assert estimate >= math.ceil(characters / 3) + 200
    assert estimate >= characters / 4 * 1.3 + 200  # English is ~4 characters a token
    assert estimate < characters + 200


def test_a_schema_is_counted_and_a_request_without_max_tokens_is_refused():
    schema = {"title": "triage", "type": "object",
              "properties": {"severity": {"enum": ["low", "medium", "high"]}}}
    plain = request_for("Triage it.", model="any")
    structured = request_for("Triage it.", model="any", schema=schema)

    assert estimate_tokens(structured) > estimate_tokens(plain)
    with pytest.raises(ValueError, match="no max_tokens.*set max_tokens"):
        estimate_tokens({"messages": plain["messages"]})


# Backpressure --------------------------------------------------------------------------------

def test_admission_refuses_at_once_when_full_and_admits_again_after():
    async def main():
        admission, loop = Admission(3), asyncio.get_running_loop()
        refused_at, peak = [], []

        async def slow_request():
            try:
                async with admission.admit():
                    peak.append(admission.in_flight)
                    await asyncio.sleep(10)
                    return "done"
            except Busy as busy:
                refused_at.append(loop.time())
                return busy

        first = await asyncio.gather(*(slow_request() for _ in range(10)))
        after = await asyncio.gather(*(slow_request() for _ in range(3)))
        return admission, first, after, refused_at, peak

    admission, first, after, refused_at, peak = on_model_time(main())

    assert first.count("done") == 3
    assert sum(isinstance(outcome, Busy) for outcome in first) == 7
    assert refused_at == [0.0] * 7  # refused at once: nothing waited
    assert after == ["done"] * 3  # once they finished, there is room again
    assert (admission.admitted, admission.refused, admission.in_flight) == (6, 7, 0)
    assert max(peak) == 3


def test_admission_bounds_what_waits_behind_a_limiter():
    """Callers come 10 a second to a service that serves 1 a second: without admission the
    limiter's queue grows by 9 a second; with it, at most `capacity` are ever inside."""
    async def main():
        admission, per_second, peak = Admission(5), requests_per_second(1), []

        async def call():
            try:
                async with admission.admit():
                    peak.append(admission.in_flight)
                    async with per_second:
                        await asyncio.sleep(0.5)
            except Busy:
                pass

        async def arrivals():
            tasks = []
            for _ in range(100):
                tasks.append(asyncio.ensure_future(call()))
                await asyncio.sleep(0.1)
            await asyncio.gather(*tasks)

        await arrivals()
        return admission, max(peak)

    admission, peak = on_model_time(main())

    assert peak <= 5
    assert admission.admitted + admission.refused == 100
    assert 10 <= admission.admitted <= 20 and admission.refused >= 80


def test_busy_says_the_service_is_full_and_when_to_retry():
    busy = Busy(3, 2.0)

    assert "full" in str(busy) and "Retry in 2 s" in str(busy)
    assert busy.retry_in == 2.0


@pytest.mark.parametrize("capacity", [0, -1, 2.5, None])
def test_admission_needs_room_for_one_request(capacity):
    with pytest.raises(ValueError, match=f"capacity={capacity!r}: a service must hold at least 1"):
        Admission(capacity)
