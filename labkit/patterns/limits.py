"""Bounds on loops between agents: rounds, tokens spent, seconds."""
from __future__ import annotations

from typing import Callable, Iterator

from ..llm import clock as model_clock
from ..llm.usage import Ledger


class Guard:
    """Bounds a loop by rounds, tokens spent and seconds; says which bound stopped it.

        guard = Guard(max_rounds=5, max_tokens=3000, ledger=labkit.ledger)
        for round_no in guard:
            ...
            if done: guard.stop("agreed")
        print(guard.reason)

    Every loop between agents needs one: two agents that never agree would talk forever.
    """

    def __init__(self, max_rounds: int, *, max_tokens: int | None = None,
                 max_seconds: float | None = None, ledger: Ledger | None = None,
                 clock: Callable[[], float] = model_clock.now) -> None:
        if max_rounds < 1:
            raise ValueError(f"max_rounds={max_rounds}: a loop needs at least 1 round.")
        for name, bound in [("max_tokens", max_tokens), ("max_seconds", max_seconds)]:
            if bound is not None and bound <= 0:
                raise ValueError(f"{name}={bound}: a bound must be above 0 (None: no bound).")
        if max_tokens is not None and ledger is None:
            raise ValueError("max_tokens needs the ledger that counts them: pass ledger=labkit.ledger.")
        self.max_rounds, self.max_tokens, self.max_seconds = max_rounds, max_tokens, max_seconds
        self.ledger = ledger
        self.clock = clock  # seconds: model time by default
        self.rounds = 0
        self.reason: str | None = None
        self._tokens_at_start = 0
        self._tokens_at_end: int | None = None  # once the loop has stopped

    def stop(self, reason: str) -> None:
        """End the loop for a reason of the loop's own (e.g. "agreed")."""
        self.reason = reason
        self._tokens_at_end = self._ledger_tokens()

    def tokens_spent(self) -> int:
        """Tokens spent by the loop: since it started, and until it stopped."""
        end = self._ledger_tokens() if self._tokens_at_end is None else self._tokens_at_end
        return end - self._tokens_at_start

    def _ledger_tokens(self) -> int:
        return self.ledger.totals()["total_tokens"] if self.ledger else 0

    def __iter__(self) -> Iterator[int]:
        self.rounds, self.reason, self._tokens_at_end = 0, None, None
        self._tokens_at_start = self._ledger_tokens()
        started = self.clock()
        while self.reason is None:
            if self.rounds >= self.max_rounds:
                self.reason = f"round limit: {self.max_rounds} rounds"
            elif self.max_tokens is not None and self.tokens_spent() >= self.max_tokens:
                self.reason = f"token budget: {self.tokens_spent()} of {self.max_tokens} tokens spent"
            elif self.max_seconds is not None and self.clock() - started >= self.max_seconds:
                self.reason = f"time limit: {self.max_seconds} s"
            else:
                self.rounds += 1
                yield self.rounds
        self._tokens_at_end = self._ledger_tokens()
