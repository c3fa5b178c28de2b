"""Recovering from faults: what to retry, how long to wait, how much to retry, what to try
next, and when to stop calling a downstream at all. Notebook 03 builds each by hand first.

    budget = RetryBudget(ratio=0.5)
    answer = await retry(ask_triager, attempts=4, backoff=Backoff(seed=1), budget=budget)
    breaker = CircuitBreaker("model", failures=5, reset_after=30)
    answer = await breaker.call(ask_triager)
    used = await fallback([("model", ask), ("rule", classify)], valid=is_valid)

Retries run on tenacity, whose async sleep is asyncio's: on labkit's model-time loop a
backoff takes model time, not wall time. The breaker is labkit's own because every breaker
library reads the wall clock (pybreaker and aiobreaker `datetime.now()`, purgatory
`time.time()`), and a replayed run never waits long enough on it to reach half-open.
"""
from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import openai
import tenacity

from ..observe import trace

RETRIABLE_CLASSES = {"rate limit", "transient", "malformed output"}


class Invalid(ValueError):
    """An answer that arrived but is not usable: it broke its schema, or a check of meaning."""


class BreakerOpen(RuntimeError):
    """A call refused at once: the downstream's circuit breaker is open."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"the circuit breaker of {name!r} is open: calls are refused for "
                         f"another {retry_in:.1f} s")
        self.retry_in = retry_in


class RetryBudgetSpent(RuntimeError):
    """The run has used all the retries its budget allows."""


# Which errors are worth another try -------------------------------------------------------

def failure_class(error: BaseException) -> str:
    """What kind of failure an error is: "rate limit", "transient", "malformed output" (all
    worth a retry), "breaker open" (wait, then retry) or "fatal" (a retry would fail again)."""
    if isinstance(error, BreakerOpen):
        return "breaker open"
    if isinstance(error, openai.RateLimitError):
        # OpenAI answers 429 for an exhausted quota too: no wait will bring it back.
        return "fatal" if _error_code(error) == "insufficient_quota" else "rate limit"
    if isinstance(error, (openai.APIConnectionError, openai.InternalServerError, TimeoutError)):
        return "transient"  # APITimeoutError is an APIConnectionError; TimeoutError, ours
    if isinstance(error, openai.APIStatusError):
        return "transient" if error.status_code in (408, 409) else "fatal"
    if isinstance(error, (Invalid, json.JSONDecodeError)):
        return "malformed output"
    return "fatal"  # a bug in our own code: retrying it only repeats it


def retriable(error: BaseException) -> bool:
    return failure_class(error) in RETRIABLE_CLASSES | {"breaker open"}


def retry_after(error: BaseException) -> float | None:
    """The seconds the server asked us to wait (Retry-After), or a breaker's time left."""
    if isinstance(error, BreakerOpen):
        return error.retry_in
    response = getattr(error, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        return max(float(header), 0.0) if header is not None else None
    except ValueError:
        return None  # an HTTP date: rare from model APIs; fall back to our own backoff


def _error_code(error: openai.APIStatusError) -> str | None:
    body = error.body if isinstance(error.body, dict) else {}
    return (body.get("error") or body).get("code") if isinstance(body, dict) else None


# How long to wait ---------------------------------------------------------------------

@dataclass
class Backoff:
    """Exponential backoff with full jitter and a cap: before retry n (1, 2, ...), wait a
    random time between 0 and min(cap, base * 2**(n-1)). Seeded: the same waits every run.
    A server's Retry-After wins over the jitter when it asks for longer."""

    base: float = 1.0
    cap: float = 30.0
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self):
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"Backoff(base={self.base}, cap={self.cap}): the base must be "
                             "positive and the cap at least the base.")
        self._random = random.Random(self.seed)

    def delay(self, retry_number: int, error: BaseException | None = None) -> float:
        jitter = self._random.uniform(0, min(self.cap, self.base * 2 ** (retry_number - 1)))
        asked = retry_after(error) if error is not None else None
        return max(jitter, asked) if asked is not None else jitter


# How much to retry, across a whole run ----------------------------------------------------

class RetryBudget:
    """Retries allowed across a run: `minimum`, plus `ratio` for every first attempt. When a
    downstream fails for everyone, the run stops retrying instead of multiplying its load."""

    def __init__(self, ratio: float = 0.5, minimum: int = 10) -> None:
        if ratio < 0 or minimum < 0:
            raise ValueError(f"RetryBudget(ratio={ratio}, minimum={minimum}): neither can be negative.")
        self.ratio, self.minimum = ratio, minimum
        self.calls = self.retries = self.refused = 0

    def allows(self) -> bool:
        return self.retries + 1 <= self.minimum + self.ratio * self.calls

    def spend(self) -> bool:
        """Take one retry from the budget; False (and counted as refused) when none is left."""
        if not self.allows():
            self.refused += 1
            return False
        self.retries += 1
        return True


async def retry(step: Callable[[BaseException | None], Awaitable[Any]], *, attempts: int = 4,
                backoff: Backoff | None = None, budget: RetryBudget | None = None,
                retry_if: Callable[[BaseException], bool] = retriable, name: str = "step") -> Any:
    """`await step(last_error)` until it returns, at most `attempts` times, waiting a backoff
    between tries. Only errors `retry_if` accepts are retried, and only while the budget
    allows; the last error is raised. The step hears why its last try failed (None at first),
    so it can tell the model what was wrong. Each try and each wait is a span of the trace."""
    if attempts < 1:
        raise ValueError(f"retry(attempts={attempts}): at least one attempt.")
    backoff = backoff or Backoff()
    if budget is not None:
        budget.calls += 1

    def worth_retrying(state: tenacity.RetryCallState) -> bool:
        # tenacity asks this after the last attempt too: no retry follows it, none is spent.
        # A breaker's refusal sent no request: it waits, but costs the budget nothing.
        error = state.outcome.exception()
        if error is None or state.attempt_number >= attempts or not retry_if(error):
            return False
        return budget is None or isinstance(error, BreakerOpen) or budget.spend()

    def wait(state: tenacity.RetryCallState) -> float:
        return backoff.delay(state.attempt_number, state.outcome.exception())

    last_error = None
    async for attempt in tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(attempts), wait=wait, reraise=True,
            retry=worth_retrying,
            before_sleep=lambda state: trace.mark(
                "backoff", kind="backoff", seconds=round(state.upcoming_sleep, 3),
                error=type(state.outcome.exception()).__name__)):
        with attempt:
            with trace.span(f"{name} attempt {attempt.retry_state.attempt_number}",
                            agent=name, kind="attempt"):
                try:
                    return await step(last_error)
                except Exception as error:
                    last_error = error
                    raise


# What to try next -----------------------------------------------------------------------

@dataclass
class Fallback:
    tier: str  # the option whose answer was used
    value: Any
    tried: list[tuple[str, str]]  # (option, why it was not used), for the options before it


class Exhausted(RuntimeError):
    """No option of a fallback chain gave a valid answer."""

    def __init__(self, tried: list[tuple[str, str]]) -> None:
        super().__init__("no option gave a valid answer: "
                         + "; ".join(f"{name}: {why}" for name, why in tried))
        self.tried = tried


async def fallback(options: list[tuple[str, Callable[[], Awaitable[Any]]]], *,
                   valid: Callable[[Any], bool] = lambda value: True) -> Fallback:
    """Try each (name, step) in order; the first valid answer wins, and no option after it
    runs. Raises Exhausted, with the reason for each, when none gives one."""
    tried = []
    for name, step in options:
        try:
            value = await step()
        except Exception as error:
            tried.append((name, f"{type(error).__name__}: {error}"[:200]))
            continue
        if valid(value):
            return Fallback(name, value, tried)
        tried.append((name, f"invalid answer {value!r}"[:200]))
    raise Exhausted(tried)


# When to stop calling a downstream ------------------------------------------------------

class CircuitBreaker:
    """Closed: calls pass, failures are counted. After `failures` failures in a row it opens:
    calls are refused at once (BreakerOpen) for `reset_after` seconds of model time. Then it
    is half-open: one trial call passes; success closes it, failure opens it again. Every
    change of state is kept in `changes` and marked in the trace."""

    def __init__(self, name: str, *, failures: int = 5, reset_after: float = 30.0,
                 counts: Callable[[BaseException], bool] = retriable) -> None:
        if failures < 1 or reset_after <= 0:
            raise ValueError(f"CircuitBreaker(failures={failures}, reset_after={reset_after}): "
                             "failures must be at least 1 and reset_after positive.")
        self.name, self.failures, self.reset_after, self.counts = name, failures, reset_after, counts
        self._state, self._failed, self._opened_at, self._trial = "closed", 0, 0.0, False
        self.changes: list[tuple[float, str]] = [(self._now(), "closed")]

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time() if _in_loop() else 0.0

    @property
    def state(self) -> str:
        if self._state == "open" and self._now() >= self._opened_at + self.reset_after:
            self._change("half-open")
        return self._state

    def _change(self, state: str) -> None:
        self._state = state
        self.changes.append((self._now(), state))
        trace.mark(f"breaker {self.name} {state}", kind="breaker", agent=self.name, state=state)

    async def call(self, step: Callable[..., Awaitable[Any]], *args) -> Any:
        state = self.state
        if state == "open" or (state == "half-open" and self._trial):
            left = self._opened_at + self.reset_after - self._now()
            raise BreakerOpen(self.name, max(left, 0.0) if state == "open" else 0.1)
        self._trial = state == "half-open"
        try:
            value = await step(*args)
        except Exception as error:
            if self.counts(error) or self._trial:
                self._failure()
            raise
        finally:
            self._trial = False
        if self._state != "closed":
            self._change("closed")
        self._failed = 0
        return value

    def _failure(self) -> None:
        self._failed += 1
        if self._state == "half-open" or self._failed >= self.failures:
            self._opened_at = self._now()
            self._change("open")


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
