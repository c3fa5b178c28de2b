"""Model time: the clock every timing figure of the course is read from.

A replayed answer comes back at once, yet it carries the time the model took when it was
recorded. On a *virtual* clock that time is counted, not waited for: a blocking call moves
the clock on by its latency, and labkit's event loop (model_loop.py) jumps the clock to its
next timer whenever nothing else can run, so `asyncio.sleep(30)` takes no wall time and
concurrent calls overlap exactly as their latencies say. The same run gives the same figures
every time. On a *real* clock (a live model, or a replay that waits for real) model time is
the wall clock.

    clock().now()        model seconds since the clock started
"""
from __future__ import annotations

import asyncio
import threading
import time


class ModelClock:
    """Seconds of model time. Virtual: moved on only by advance(); real: the wall clock."""

    def __init__(self, virtual: bool = False) -> None:
        self._lock = threading.Lock()  # sync calls on the main thread, the loop on its own
        self._offset = 0.0
        self._since: float | None = None  # when the clock last turned real, by the wall clock
        self.virtual = virtual

    @property
    def virtual(self) -> bool:
        return self._since is None

    @virtual.setter
    def virtual(self, virtual: bool) -> None:
        with self._lock:
            if virtual and self._since is not None:  # real -> virtual: keep the time reached
                self._offset += time.monotonic() - self._since
                self._since = None
            elif not virtual and self._since is None:  # virtual -> real: the wall clock runs on
                self._since = time.monotonic()

    def restart(self, virtual: bool) -> None:
        """Start again from 0: a notebook's model time counts from its setup, so the same run
        gives the same figures to the last digit, however long the imports before it took."""
        with self._lock:
            self._offset = 0.0
            self._since = None if virtual else time.monotonic()

    def now(self) -> float:
        with self._lock:
            running = 0.0 if self._since is None else time.monotonic() - self._since
            return self._offset + running

    def advance_if_virtual(self, seconds: float) -> bool:
        """advance(), if the clock is virtual; whether it was (one step: no race with a switch)."""
        with self._lock:
            if self._since is not None:
                return False
            self._offset += max(seconds, 0.0)
            return True

    def advance(self, seconds: float) -> None:
        """Count `seconds` of model time that passed without being waited for (virtual only)."""
        if seconds < 0:
            raise ValueError(f"advance({seconds}): model time never runs backwards.")
        if not self.virtual:
            raise RuntimeError("A real clock runs by itself: advance() is for a virtual one.")
        with self._lock:
            self._offset += seconds


# The session's clock: sync code and the notebook's model-time loop read and move this one.
session_clock = ModelClock(virtual=False)


def clock() -> ModelClock:
    """The clock of the model-time loop this code runs on; outside one, the session's."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return session_clock
    return getattr(loop, "model_clock", session_clock)


def now() -> float:
    """Model seconds on the current clock: for traces, timeouts and bounds."""
    return clock().now()
