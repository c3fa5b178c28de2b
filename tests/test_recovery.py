"""Recovery: what to retry, backoff in model time, retry budgets, fallbacks, circuit breakers."""
import asyncio
import json

import httpx2
import openai
import pytest

import labkit
from labkit.llm.clock import ModelClock
from labkit.patterns.faults import Faults
from labkit.patterns.recovery import (Backoff, BreakerOpen, CircuitBreaker, Exhausted, Invalid,
                                      RetryBudget, failure_class, fallback, retriable, retry,
                                      retry_after)
from test_faults import ANSWER, SCHEMA, canned  # noqa: F401 -- canned is a fixture

REQUEST = httpx2.Request("POST", "http://model.invalid/v1/chat/completions")


def status_error(error_type, status, code=None, headers=None):
    """An error as the SDK makes it from a response: its body is the response's "error"."""
    body = {"message": f"status {status}", "type": code, "code": code}
    response = httpx2.Response(status, json={"error": body}, headers=headers, request=REQUEST)
    return error_type(f"Error code: {status}", response=response, body=body)


def rate_limited(seconds="2"):
    return status_error(openai.RateLimitError, 429, "rate_limit_exceeded", {"retry-after": seconds})


def server_error():
    return status_error(openai.InternalServerError, 500, "server_error")


def on_model_time(coroutine):
    return labkit.run(coroutine, clock=ModelClock(virtual=True))


# Which errors are worth another try --------------------------------------------------------

@pytest.mark.parametrize("error, expected", [
    (rate_limited(), "rate limit"),
    (status_error(openai.RateLimitError, 429, "insufficient_quota"), "fatal"),  # no money left
    (server_error(), "transient"),
    (status_error(openai.InternalServerError, 503), "transient"),
    (status_error(openai.APIStatusError, 408), "transient"),
    (status_error(openai.ConflictError, 409), "transient"),
    (status_error(openai.BadRequestError, 400, "invalid_request_error"), "fatal"),
    (status_error(openai.AuthenticationError, 401), "fatal"),
    (status_error(openai.NotFoundError, 404), "fatal"),
    (openai.APITimeoutError(request=REQUEST), "transient"),
    (openai.APIConnectionError(request=REQUEST), "transient"),
    (TimeoutError(), "transient"),  # asyncio.timeout's
    (Invalid("the quote is not words of the report"), "malformed output"),
    (json.JSONDecodeError("Unterminated string", '{"severity": "hi', 13), "malformed output"),
    (BreakerOpen("model", 3.0), "breaker open"),
    (RuntimeError("a bug of ours"), "fatal"),
    (KeyError("severity"), "fatal"),
])
def test_each_error_has_its_failure_class(error, expected):
    assert failure_class(error) == expected
    assert retriable(error) == (expected != "fatal")


def test_retry_after_reads_the_servers_header_or_the_breakers_time_left():
    assert retry_after(rate_limited("7")) == 7.0
    assert retry_after(rate_limited("Wed, 21 Oct 2026 07:28:00 GMT")) is None  # a date: ignored
    assert retry_after(server_error()) is None
    assert retry_after(BreakerOpen("model", 3.5)) == 3.5
    assert retry_after(RuntimeError()) is None


# How long to wait --------------------------------------------------------------------------

def test_a_backoff_waits_a_random_time_under_a_doubling_ceiling_and_the_cap():
    for seed in range(20):
        backoff = Backoff(base=0.5, cap=4.0, seed=seed)
        for retry_number in range(1, 9):
            assert 0 <= backoff.delay(retry_number) <= min(4.0, 0.5 * 2 ** (retry_number - 1))

    firsts = [Backoff(base=1.0, seed=seed).delay(1) for seed in range(20)]
    assert min(firsts) < 0.3 and max(firsts) > 0.7  # full jitter: anywhere from 0 to the base


def test_a_seeded_backoff_waits_the_same_every_run():
    def delays(seed):
        backoff = Backoff(base=1.0, cap=30.0, seed=seed)
        return [backoff.delay(n) for n in range(1, 6)]

    assert delays(3) == delays(3)
    assert delays(3) != delays(4)


def test_a_backoff_waits_at_least_what_the_server_asks():
    assert Backoff(base=1.0, cap=2.0).delay(1, rate_limited("10")) == 10.0
    asked_less, plain = Backoff(seed=1), Backoff(seed=1)
    assert asked_less.delay(3, rate_limited("0")) == plain.delay(3)  # the jitter was longer


@pytest.mark.parametrize("base, cap", [(0, 30), (-1, 30), (2, 1)])
def test_a_backoff_needs_a_positive_base_under_its_cap(base, cap):
    with pytest.raises(ValueError, match="base must be positive"):
        Backoff(base=base, cap=cap)


# Retrying -----------------------------------------------------------------------------------

class Flaky:
    """A step that raises its errors in turn, then answers "done"; it keeps what it heard."""

    def __init__(self, *errors):
        self.errors, self.heard = list(errors), []

    async def __call__(self, last_error):
        self.heard.append(last_error)
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_retry_retries_what_is_retriable_and_tells_the_step_why():
    errors = [server_error(), openai.APITimeoutError(request=REQUEST), Invalid("no quote")]
    step = Flaky(*errors)

    assert on_model_time(retry(step, attempts=4)) == "done"
    assert step.heard == [None, *errors]


def test_a_fatal_error_is_raised_at_the_first_attempt():
    step = Flaky(status_error(openai.BadRequestError, 400), server_error())

    with pytest.raises(openai.BadRequestError):
        on_model_time(retry(step, attempts=4))
    assert len(step.heard) == 1


def test_retry_stops_after_its_attempts_and_raises_the_last_error():
    errors = [server_error() for _ in range(5)]
    step = Flaky(*errors)

    with pytest.raises(openai.InternalServerError) as raised:
        on_model_time(retry(step, attempts=3))
    assert raised.value is errors[2]
    assert len(step.heard) == 3


def test_retry_asks_for_at_least_one_attempt():
    with pytest.raises(ValueError, match="at least one attempt"):
        on_model_time(retry(Flaky(), attempts=0))


def test_the_waits_between_tries_are_model_time():
    async def timed():
        loop = asyncio.get_running_loop()
        started = loop.time()
        await retry(Flaky(server_error(), server_error(), server_error()), attempts=4,
                    backoff=Backoff(base=2.0, cap=10.0, seed=5))
        return loop.time() - started

    twin = Backoff(base=2.0, cap=10.0, seed=5)  # draws the same waits
    waits = [twin.delay(n) for n in (1, 2, 3)]
    assert on_model_time(timed()) == pytest.approx(sum(waits), abs=1e-9)
    assert sum(waits) > 0


def test_retry_waits_as_long_as_the_server_asks():
    async def timed():
        loop = asyncio.get_running_loop()
        started = loop.time()
        await retry(Flaky(rate_limited("5")), backoff=Backoff(base=0.1, cap=0.1))
        return loop.time() - started

    assert on_model_time(timed()) == 5.0


def test_a_spent_budget_refuses_retries():
    budget = RetryBudget(ratio=0, minimum=2)  # two retries for the whole run
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(on_model_time(retry(Flaky(server_error()), budget=budget)))
        except openai.InternalServerError:
            outcomes.append("failed")

    assert outcomes == ["done", "done", "failed"]
    assert (budget.calls, budget.retries, budget.refused) == (3, 2, 1)


def test_a_budget_pays_only_for_retries_made():
    budget = RetryBudget(ratio=0, minimum=10)

    with pytest.raises(openai.InternalServerError):
        on_model_time(retry(Flaky(*[server_error() for _ in range(3)]), attempts=3, budget=budget))
    assert (budget.retries, budget.refused) == (2, 0)  # three attempts are two retries


def test_a_breakers_refusal_is_waited_out_at_no_cost_to_the_budget():
    budget = RetryBudget(ratio=0, minimum=0)  # no retry allowed at all
    step = Flaky(BreakerOpen("model", retry_in=4.0))

    assert on_model_time(retry(step, backoff=Backoff(base=0.1, cap=0.1), budget=budget)) == "done"
    assert budget.retries == budget.refused == 0


def test_retry_gets_every_task_through_injected_faults(canned):
    plan = Faults(rate=0.3, seed=11)

    async def triage(task):
        async def ask(last_error):
            reply = await labkit.achat(f"Bug {task}: the app crashes.", schema=SCHEMA)
            answer = json.loads(reply.text)  # prose or a cut-off body: malformed, retried
            if answer != ANSWER:
                raise Invalid(f"not the model's answer: {answer}")  # a wrong answer, caught
            return answer
        return await retry(ask, attempts=6, backoff=Backoff(seed=task), name=f"task {task}")

    async def every_task():
        with labkit.override(faults=plan):
            return await asyncio.gather(*(triage(task) for task in range(20)))

    assert labkit.run(every_task()) == [ANSWER] * 20
    assert len(plan.injected) >= 5 and len(plan.counts()) >= 4  # they did meet faults


# What to try next --------------------------------------------------------------------------

def option(name, answer, called):
    """A fallback option that notes it was called, then answers (or raises) `answer`."""
    async def step():
        called.append(name)
        if isinstance(answer, Exception):
            raise answer
        return answer
    return name, step


def is_severity(value):
    return value in ("low", "medium", "high", "critical")


def test_the_first_valid_answer_wins_and_later_options_never_run():
    called = []
    options = [option("model", TimeoutError("no answer"), called),
               option("stricter prompt", "very bad", called),
               option("rule", "high", called),
               option("person", "low", called)]

    used = on_model_time(fallback(options, valid=is_severity))

    assert (used.tier, used.value) == ("rule", "high")
    assert used.tried == [("model", "TimeoutError: no answer"),
                          ("stricter prompt", "invalid answer 'very bad'")]
    assert called == ["model", "stricter prompt", "rule"]


def test_when_no_option_answers_exhausted_says_why_for_each():
    called = []
    options = [option("model", Invalid("no quote"), called), option("rule", None, called)]

    with pytest.raises(Exhausted) as raised:
        on_model_time(fallback(options, valid=is_severity))

    assert raised.value.tried == [("model", "Invalid: no quote"), ("rule", "invalid answer None")]
    assert "model: Invalid: no quote; rule: invalid answer None" in str(raised.value)


# When to stop calling a downstream -------------------------------------------------------

async def failing():
    raise TimeoutError("no answer")


async def answering():
    return "answer"


async def bad_request():
    raise status_error(openai.BadRequestError, 400, "invalid_request_error")


def test_a_breaker_opens_after_failures_in_a_row_and_refuses_without_calling():
    calls = []

    async def counted():
        calls.append(1)
        await failing()

    async def scenario():
        breaker = CircuitBreaker("model", failures=3, reset_after=30)
        for _ in range(3):
            with pytest.raises(TimeoutError):
                await breaker.call(counted)
        await asyncio.sleep(10)
        with pytest.raises(BreakerOpen) as refused:
            await breaker.call(counted)
        return breaker, refused.value

    breaker, refused = on_model_time(scenario())
    assert breaker.state == "open" and len(calls) == 3  # the fourth call never ran
    assert refused.retry_in == 20.0
    assert breaker.changes == [(0.0, "closed"), (0.0, "open")]


def test_only_failures_in_a_row_that_count_open_a_breaker():
    async def scenario():
        breaker = CircuitBreaker("model", failures=3, reset_after=30)
        for step in (failing, failing, answering, failing, failing):  # a success starts again
            await asyncio.gather(breaker.call(step), return_exceptions=True)
        for _ in range(5):  # a bad request is our fault, not the downstream's
            await asyncio.gather(breaker.call(bad_request), return_exceptions=True)
        closed = breaker.state
        await asyncio.gather(breaker.call(failing), return_exceptions=True)  # the third in a row
        return closed, breaker.state

    assert on_model_time(scenario()) == ("closed", "open")


def test_a_breaker_half_opens_after_reset_after_for_one_trial_that_closes_it():
    async def slow_answer():
        await asyncio.sleep(5)
        return "answer"

    async def scenario():
        breaker = CircuitBreaker("model", failures=1, reset_after=30)
        await asyncio.gather(breaker.call(failing), return_exceptions=True)
        await asyncio.sleep(29.5)
        still_open = breaker.state
        await asyncio.sleep(0.5)
        half_open = breaker.state
        trial = asyncio.create_task(breaker.call(slow_answer))
        await asyncio.sleep(1)
        with pytest.raises(BreakerOpen):  # one trial at a time
            await breaker.call(answering)
        return still_open, half_open, await trial, breaker

    still_open, half_open, answer, breaker = on_model_time(scenario())
    assert (still_open, half_open, answer) == ("open", "half-open", "answer")
    assert breaker.changes == [(0.0, "closed"), (0.0, "open"), (30.0, "half-open"),
                               (35.0, "closed")]


def test_a_failed_trial_opens_the_breaker_again():
    async def scenario():
        breaker = CircuitBreaker("model", failures=2, reset_after=10)
        for _ in range(2):
            await asyncio.gather(breaker.call(failing), return_exceptions=True)
        await asyncio.sleep(10)
        with pytest.raises(TimeoutError):
            await breaker.call(failing)  # the trial
        with pytest.raises(BreakerOpen) as refused:
            await breaker.call(answering)
        return breaker, refused.value

    breaker, refused = on_model_time(scenario())
    assert [state for _, state in breaker.changes] == ["closed", "open", "half-open", "open"]
    assert breaker.changes[-1] == (10.0, "open") and refused.retry_in == 10.0


@pytest.mark.parametrize("options", [{"failures": 0}, {"reset_after": 0}, {"reset_after": -5}])
def test_a_breaker_needs_a_failure_count_and_a_positive_reset(options):
    with pytest.raises(ValueError, match="failures must be at least 1 and reset_after positive"):
        CircuitBreaker("model", **options)
