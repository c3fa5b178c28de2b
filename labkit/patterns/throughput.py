"""Throughput: how fast requests may go out, how many tokens a minute, how many at once.

    per_second = requests_per_second(5)          # no 1 s window holds more than 5 requests
    async with per_second:
        reply = await ...

    tpm = TokensPerMinute(30_000)                # what a hosted API allows a minute
    async with tpm.reserve(estimate_tokens(request)) as spend:
        reply = await ...
        spend.settle(reply.usage.total_tokens)   # the real count replaces the estimate

    admission = Admission(capacity=8)            # backpressure: refuse, don't queue for ever
    async with admission.admit():                # raises Busy at once when full
        ...

All three wait (or refuse) by the running loop's time(): on labkit's model-time loop that is
model time, so a minute's wait for the token window takes no wall time.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import numbers
from collections import deque
from collections.abc import AsyncIterator

from aiolimiter import AsyncLimiter

# Requests per second ----------------------------------------------------------------------


def requests_per_second(rate: float, *, burst: int = 1) -> AsyncLimiter:
    """A limiter that lets out requests at `rate` a second, with no burst: acquisitions are
    at least 1/rate s apart, so no 1 s window [t, t+1) holds more than `rate` of them (for a
    fractional rate, more than ceil(rate): rate=0.5 is one request every 2 s).

    burst > 1 lets that many go at once after a quiet spell, as AsyncLimiter(rate, 1) does
    with burst=rate; a window can then hold nearly rate + burst (notebook 05 measures it)."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not (
            math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate={rate!r}: a limit needs a positive number of requests per "
                         "second (e.g. rate=5); for no limit, do not wrap the call in one.")
    if isinstance(burst, bool) or not isinstance(burst, numbers.Integral) or burst < 1:
        raise ValueError(f"burst={burst!r}: a whole number of requests, 1 or more (1: none "
                         "at once).")
    # AsyncLimiter(max_rate, time_period) is a leaky bucket holding max_rate that drains at
    # max_rate/time_period a second. AsyncLimiter(rate, 1) lets `rate` through at once, then
    # one more every 1/rate s: nearly 2 * rate in one second. A bucket that holds 1 and drains
    # in 1/rate s lets one through only when it is empty: no burst, the same long-run rate.
    return _Spaced(burst, burst / float(rate))


class _Spaced(AsyncLimiter):
    """AsyncLimiter, with one float fix for a virtual clock.

    After a wait, the bucket can hold a float residue (1e-16 above a whole number of
    requests) whose drain time rounds to no
    time at all: aiolimiter sets a timer for "now", the clock does not move, and on a virtual
    clock (where only timers move it) it never drains: the loop spins for ever. On a real
    clock the next reading is later, so it cannot happen there. A residue the clock cannot
    wait for is taken as drained: a request may go out a few ulps of a second early.
    """

    __slots__ = ()

    def _leak(self) -> None:
        super()._leak()
        whole = math.floor(self._level)
        residue = self._level - whole
        if residue and residue / self._rate_per_sec <= 4 * math.ulp(self._last_check):
            self._level = float(whole)


# Tokens per minute ------------------------------------------------------------------------


class Spend:
    """What one reservation counts in the window: `tokens`, recorded at `at` (loop time)."""

    __slots__ = ("at", "tokens", "estimate", "_owner")

    def __init__(self, at: float, tokens: int, owner: TokensPerMinute) -> None:
        self.at, self.tokens, self.estimate, self._owner = at, tokens, tokens, owner

    def settle(self, actual: int) -> None:
        """Count the call's real tokens instead of the estimate. An actual above the estimate
        is counted as it is: the window can then hold more than the limit (the tokens were
        spent; a limiter cannot take them back), and later reservations wait for it."""
        _check_tokens(actual, "actual")
        lowered = actual < self.tokens
        self.tokens = actual
        if lowered:
            self._owner._room_made()  # the first waiter may fit now, before any record expires

    def __repr__(self) -> str:
        return f"Spend(at={self.at:.3f}, tokens={self.tokens}, estimate={self.estimate})"


class TokensPerMinute:
    """A tokens-per-minute limit, as a sliding-window log: no window of `window_s` seconds
    holds more than `limit` tokens (counting each reservation's settled amount).

        async with tpm.reserve(estimate) as spend:
            reply = await ...
            spend.settle(reply.usage.total_tokens)

    reserve(n) waits until the tokens recorded in the last window_s, plus n, fit under the
    limit, then records n at that moment. Waiters go first come, first served: a large
    reservation is not passed for ever by small ones that would fit sooner. Leaving the block
    without settle() keeps the estimate: a call that failed still spent its reservation, as
    far as we know. Built by hand: aiolimiter's bucket bursts for amounts as it does for
    requests (a full bucket now, then a drip), and the API counts a sliding window.
    """

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit <= 0:
            raise ValueError(f"limit={limit!r}: a tokens-per-minute limit needs a positive "
                             "whole number of tokens (e.g. limit=30_000, your API tier's TPM).")
        if isinstance(window_s, bool) or not isinstance(window_s, numbers.Real) or not (
                math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"window_s={window_s!r}: the window needs a positive number of "
                             "seconds (60 for a per-minute limit).")
        self.limit, self.window_s = int(limit), float(window_s)
        self._log: deque[Spend] = deque()  # in time order: the oldest expires first
        self._turn = asyncio.Lock()  # FIFO: the first waiter waits for room, the rest behind it
        self._room: asyncio.Future | None = None  # the first waiter's wake-up call

    def reserve(self, n: int) -> contextlib.AbstractAsyncContextManager[Spend]:
        """Wait for room for n tokens and count them; the block's Spend can settle() them."""
        _check_tokens(n, "n")
        if n > self.limit:
            raise ValueError(f"reserve({n}) could never fit: raise the limit or split the "
                             f"request (the limit is {self.limit} tokens in {self.window_s:g} s).")
        return self._reserved(n)

    @contextlib.asynccontextmanager
    async def _reserved(self, n: int) -> AsyncIterator[Spend]:
        async with self._turn:  # asyncio.Lock wakes its waiters in the order they came
            loop = asyncio.get_running_loop()
            while (fits_at := self._fits_at(n, loop.time())) is not None:
                self._room = loop.create_future()
                timer = loop.call_at(fits_at, self._room_made)
                try:
                    await self._room  # the oldest records expire, or a settle() frees room
                finally:
                    timer.cancel()
                    self._room = None
            spend = Spend(loop.time(), n, self)
            self._log.append(spend)
        yield spend

    def _fits_at(self, n: int, now: float) -> float | None:
        """None if n fits now; else when enough of the oldest records will have expired."""
        while self._log and self._log[0].at + self.window_s <= now:  # it has left the window
            self._log.popleft()
        over = sum(spend.tokens for spend in self._log) + n - self.limit
        if over <= 0:
            return None
        for spend in self._log:  # with all of them gone n fits, as reserve() saw n <= limit
            over -= spend.tokens
            if over <= 0:
                break
        return spend.at + self.window_s

    def _room_made(self) -> None:
        if self._room is not None and not self._room.done():
            self._room.set_result(None)


def _check_tokens(n, name: str) -> None:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{name}={n!r}: tokens are a whole number, 0 or more "
                         "(estimate_tokens(request) gives one for a chat request).")


CHARS_PER_TOKEN = 3  # English prose is ~4 characters a token, code ~3: 3 over-counts both
TOKENS_PER_MESSAGE = 4  # the chat template's role markers around each message
TOKENS_PER_REPLY = 3  # the template's start of the assistant's reply


def estimate_tokens(request: dict) -> int:
    """An upper bound on a chat request's total tokens, before it is sent: its prompt's
    characters / 3, a few tokens a message for the chat template, and all of max_tokens.

    It over-estimates on purpose: a reservation too small lets a window overflow, and the
    API refuses the call that overflows it (429); one too large only waits a little longer,
    and settle() gives back the difference. Not a guarantee: text of many tokens a character
    (Chinese, emoji) can exceed it; settle() then counts the truth.
    """
    if request.get("max_tokens") is None:
        raise ValueError("the request has no max_tokens, so its reply has no bound to reserve: "
                         "set max_tokens (chat.request_for sets it, 200 by default).")
    messages = request.get("messages") or []
    characters = sum(len(_text(message)) for message in messages)
    for extra in ("response_format", "tools"):  # a schema or tools are sent as prompt text too
        if request.get(extra):
            characters += len(json.dumps(request[extra]))
    prompt = math.ceil(characters / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages)
    return prompt + TOKENS_PER_REPLY + int(request["max_tokens"])


def _text(message: dict) -> str:
    """A message's text: its content (a string, or a list of parts) and any tool calls."""
    content = message.get("content") or ""
    if not isinstance(content, str):
        content = " ".join(part.get("text", "") if isinstance(part, dict) else str(part)
                           for part in content)
    if message.get("tool_calls"):
        content += json.dumps(message["tool_calls"])
    return content


# Backpressure -----------------------------------------------------------------------------


class Busy(RuntimeError):
    """A request refused at once: the service already holds all the requests it can."""

    def __init__(self, capacity: int, retry_in: float) -> None:
        super().__init__(f"the service is full: {capacity} requests are already in it "
                         f"(running or waiting). Retry in {retry_in:g} s, with a backoff, "
                         "or shed the request.")
        self.capacity, self.retry_in = capacity, retry_in


class Admission:
    """At most `capacity` requests in the system (running, or waiting inside it, e.g. for a
    limiter). A request enters at once while there is room; when the system is full it is
    refused at once with Busy, instead of joining a queue that grows without bound.

        async with admission.admit():
            async with per_second:   # waiting here counts: admit around the wait
                ...

    retry_after: the seconds Busy tells a refused caller to wait, as a server's Retry-After
    does; set it near a request's usual duration, when a place is likely to have freed.
    rule: who gets in, as rule(in_flight, capacity, priority) -> bool; by default anyone
    while in_flight < capacity (notebook 05's exercise keeps places for critical work).
    """

    def __init__(self, capacity: int, *, retry_after: float = 1.0,
                 rule: Callable[[int, int, str], bool] | None = None) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, numbers.Integral) or capacity < 1:
            raise ValueError(f"capacity={capacity!r}: a service must hold at least 1 request; "
                             "size it as the requests you can serve within a caller's timeout.")
        if not retry_after >= 0:
            raise ValueError(f"retry_after={retry_after!r}: seconds, 0 or more.")
        self.capacity, self.retry_after = int(capacity), float(retry_after)
        self.rule = rule or _while_room
        self._in_flight = self._admitted = self._refused = 0

    @property
    def in_flight(self) -> int:
        """Requests in the system now: admitted, and not yet out of their block."""
        return self._in_flight

    @property
    def admitted(self) -> int:
        return self._admitted

    @property
    def refused(self) -> int:
        return self._refused

    @contextlib.asynccontextmanager
    async def admit(self, priority: str = "normal") -> AsyncIterator[None]:
        """Hold one place for the block; raise Busy at once (no wait) when the rule says no."""
        if self._in_flight >= self.capacity or not self.rule(self._in_flight, self.capacity,
                                                             priority):
            self._refused += 1
            raise Busy(self.capacity, self.retry_after)
        self._in_flight += 1
        self._admitted += 1
        try:
            yield
        finally:
            self._in_flight -= 1


def _while_room(in_flight: int, capacity: int, priority: str) -> bool:
    return in_flight < capacity
