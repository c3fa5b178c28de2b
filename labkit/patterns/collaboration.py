"""Collaboration patterns, as reference runners: sequential, parallel, hierarchical.

Each step is an async function. Every run is traced, a step that raises is reported in its
Outcome (never lost, never hiding the others), and parallel work takes a deadline and a
limit on how many steps run at once. Seconds are the event loop's: model time on labkit's
model-time loop (a notebook's cells, labkit.run), the wall clock on any other.

    chain = await sequential([("spec", write_spec), ("code", write_code)], "a feature")
    found = await parallel({"style": style, "security": security}, deadline=30, limit=2)
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ..observe import trace

Step = Callable[[Any], Awaitable[Any]]  # takes the input, returns the output


@dataclass
class Outcome:
    name: str
    status: str  # "done", "failed", "invalid" or "timed out"
    value: Any = None
    error: str | None = None  # what went wrong, when status is not "done"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "done"


async def _run(name: str, step: Step, given: Any) -> Outcome:
    """Run one step under its own span; an exception becomes a failed Outcome."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    with trace.span(name, agent=name):
        try:
            value = await step(given)
        except Exception as error:
            return Outcome(name, "failed", error=f"{type(error).__name__}: {error}",
                           seconds=loop.time() - started)
    return Outcome(name, "done", value, seconds=loop.time() - started)


# Sequential: A -> B -> C, each output the next input ---------------------------------------------

@dataclass
class Chain:
    outcomes: list[Outcome]  # one per stage that ran, in order
    stopped: str | None = None  # why the chain stopped before its last stage; None if it did not

    @property
    def output(self) -> Any:
        """The last stage's output; an error if the chain stopped early."""
        if self.stopped:
            raise RuntimeError(f"The chain has no output: {self.stopped}")
        if not self.outcomes:
            raise RuntimeError("The chain has no output: it had no stages.")
        return self.outcomes[-1].value


async def sequential(stages: list[tuple[str, Step]], given: Any, *,
                     validate: Callable[[str, Any], str | None] | None = None) -> Chain:
    """Run the stages in order, each on the previous one's output.

    validate(stage name, output) returns a problem (text) or None. The chain stops at the first
    stage that fails or whose output is invalid: nothing downstream runs on a bad input.
    """
    outcomes = []
    for name, step in stages:
        outcome = await _run(name, step, given)
        outcomes.append(outcome)
        if outcome.ok and validate is not None:
            problem = validate(name, outcome.value)
            if problem:
                outcome.status, outcome.error = "invalid", problem
        if not outcome.ok:
            return Chain(outcomes, f"stage {name!r} {outcome.status}: {outcome.error}")
        given = outcome.value
    return Chain(outcomes)


# Parallel: several steps at once, on the same input -----------------------------------------------

async def parallel(steps: dict[str, Step], given: Any = None, *, deadline: float | None = None,
                   limit: int | None = None) -> dict[str, Outcome]:
    """Run every step on `given` at once, and return each one's Outcome, in the order given.

    limit: at most this many steps run at a time (the others wait their turn).
    deadline: seconds; steps still running then are cancelled and reported "timed out",
    so the caller goes on with what arrived.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit={limit}: at least 1 step must be allowed to run.")
    slots = asyncio.Semaphore(limit or len(steps) or 1)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def take_turn(name: str, step: Step) -> Outcome:
        async with slots:
            return await _run(name, step, given)

    tasks = {name: asyncio.create_task(take_turn(name, step)) for name, step in steps.items()}
    try:
        if tasks:
            await asyncio.wait(tasks.values(), timeout=deadline)
    finally:  # at the deadline, or if this run is itself cancelled: stop what is still running
        late = [task for task in tasks.values() if not task.done()]
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    seconds = loop.time() - started
    outcomes = {}
    for name, task in tasks.items():
        if not task.cancelled():
            outcomes[name] = task.result()
        elif deadline is not None:
            outcomes[name] = Outcome(name, "timed out", error=f"no answer within {deadline} s",
                                     seconds=seconds)
        else:  # no deadline: the step cancelled itself
            outcomes[name] = Outcome(name, "failed", error="cancelled", seconds=seconds)
    return outcomes


# Hierarchical: a manager, leads and workers ------------------------------------------------------

@dataclass
class Member:
    """A node of the tree. A worker (no team) does `work(task)`; a lead or manager first has its
    team work on the task, then does `work(task, their outcomes)` to consolidate."""

    name: str
    work: Callable[..., Awaitable[Any]]
    team: list[Member] = field(default_factory=list)


async def hierarchical(top: Member, task: Any, *, deadline: float | None = None,
                       limit: int | None = None) -> Outcome:
    """Run the tree: each team works at once, and each lead consolidates what its team returned.

    A team is all workers or all leads. deadline: how long a lead waits for its workers; it
    consolidates what arrived by then (a manager waits for its leads, each bounded by theirs).
    limit: at most this many workers run at a time, over the whole tree (leads never hold a
    slot while they wait, so a small limit cannot deadlock the tree).
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit={limit}: at least 1 worker must be allowed to run.")
    _check_tree(top)
    slots = asyncio.Semaphore(limit) if limit else None

    async def run(member: Member, given: Any) -> Any:
        if not member.team:
            if slots is None:
                return await member.work(given)
            async with slots:
                return await member.work(given)
        team = {m.name: (lambda given, m=m: run(m, given)) for m in member.team}
        of_workers = not member.team[0].team
        outcomes = await parallel(team, given, deadline=deadline if of_workers else None)
        return await member.work(given, list(outcomes.values()))

    return await _run(top.name, lambda given: run(top, given), task)


def _check_tree(member: Member) -> None:
    """Names unique within each team (outcomes are keyed by name); teams not mixed."""
    names = [m.name for m in member.team]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{member.name}'s team has members with the same name: {repeated}. "
                         "Give each member of a team its own name.")
    if len({bool(m.team) for m in member.team}) > 1:
        raise ValueError(f"{member.name}'s team mixes workers and leads: put the workers under "
                         "a lead of their own.")
    for m in member.team:
        _check_tree(m)
