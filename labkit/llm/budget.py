"""Token budgets per run and per agent that hold across nested delegation.

    run = TokenBudget(5000, "run")
    with spend_from(run):                           # every model call in the block spends here
        with spend_from(TokenBudget(800, "reviewer")):
            await reviewer.aask(...)                # ...and here; so does any agent it calls
    run.spent, run.remaining

The open budgets live in a context variable, so the asyncio tasks started inside a block spend
from it too: an agent that delegates to another cannot leave its budget behind. A call is
refused before it is sent once any open budget is spent (`BudgetSpent`); a call's tokens are
known only when it answers, so the last call may go over by its own size.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar


class BudgetSpent(RuntimeError):
    """A model call refused: a budget it would spend from has no tokens left."""


class TokenBudget:
    def __init__(self, tokens: int, name: str = "run") -> None:
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0:
            raise ValueError(f"TokenBudget({tokens!r}, {name!r}): a budget is a whole number of "
                             "tokens above 0, e.g. TokenBudget(5000, 'run').")
        self.tokens, self.name, self.spent = tokens, name, 0

    @property
    def remaining(self) -> int:
        return max(self.tokens - self.spent, 0)

    def __repr__(self) -> str:
        return f"TokenBudget({self.tokens}, {self.name!r}, spent={self.spent})"


_open: ContextVar[tuple[TokenBudget, ...]] = ContextVar("labkit_budgets", default=())


@contextmanager
def spend_from(budget: TokenBudget):
    """Every model call inside the block, and in the tasks it starts, spends from `budget` (and
    from the budgets of the blocks around it)."""
    if not isinstance(budget, TokenBudget):
        raise TypeError(f"spend_from({budget!r}): give it a TokenBudget(tokens, name).")
    token = _open.set(_open.get() + (budget,))
    try:
        yield budget
    finally:
        _open.reset(token)


def check_open() -> None:
    """Raise BudgetSpent if any open budget has nothing left (chat calls this before sending)."""
    for budget in _open.get():
        if budget.spent >= budget.tokens:
            raise BudgetSpent(
                f"The {budget.name!r} budget of {budget.tokens} tokens is spent ({budget.spent} "
                "used): no more model calls in it. Give it more tokens, or spend fewer (a "
                "shorter prompt, a cache, a cheaper tier).")


def charge(tokens: int) -> None:
    """Take a call's tokens from every open budget (chat calls this when the answer comes)."""
    for budget in _open.get():
        budget.spent += tokens
