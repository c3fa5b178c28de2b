"""Who does what: task routing (round-robin, least-loaded, by skill) and contract-net awards."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # routing reads an agent's name and skills only
    from ..agents import Agent


@dataclass(frozen=True)
class Task:
    id: str
    text: str
    skill: str  # the skill it needs, e.g. "triage", "docs", "planning"
    size: int = 1  # work units, for least-loaded routing


# Routing: each function maps tasks to agents and returns {task id: agent name} --------------

def _need_agents(agents: list[Agent]) -> None:
    if not agents:
        raise ValueError("Routing needs at least one agent: the list of agents is empty.")


def round_robin(tasks: Iterable[Task], agents: list[Agent]) -> dict[str, str]:
    """Take turns, whatever the task or the agent's load."""
    _need_agents(agents)
    turns = itertools.cycle(agents)
    return {task.id: next(turns).name for task in tasks}


def least_loaded(tasks: Iterable[Task], agents: list[Agent]) -> dict[str, str]:
    """Give each task to the agent with the fewest work units so far (ties: the first listed)."""
    _need_agents(agents)
    return _balance(tasks, agents, lambda task, agent: True)


def by_skill(tasks: Iterable[Task], agents: list[Agent]) -> dict[str, str | None]:
    """Give each task to the least-loaded agent that has its skill; None when nobody has it."""
    return _balance(tasks, agents, lambda task, agent: task.skill in agent.skills)


def _balance(tasks, agents, can_do) -> dict[str, str | None]:
    """Each task to the least-loaded agent that `can_do` it (ties: the first listed), or None."""
    load = {agent.name: 0 for agent in agents}
    routes = {}
    for task in tasks:
        able = [agent.name for agent in agents if can_do(task, agent)]
        name = min(able, key=load.get) if able else None
        routes[task.id] = name
        if name:
            load[name] += task.size
    return routes


# Marketplace (contract net): announce, bid, award ---------------------------------------------

@dataclass(frozen=True)
class Bid:
    agent: str
    cost: float  # what the agent expects to spend, e.g. USD or tokens
    confidence: float  # 0..1: how sure it is to do the task well

    @property
    def value(self) -> float:
        """Confidence per unit of cost; a free bid is worth its confidence times a large number."""
        return self.confidence / max(self.cost, 1e-9)


def award(bids: Iterable[Bid], *, min_confidence: float = 0.5) -> Bid | None:
    """The winning bid: the best value among bids at least `min_confidence` sure.

    Ties go to the lower cost, then to the agent whose name sorts first, so the award never
    depends on the order bids arrived in. No acceptable bid: None (the announcer decides:
    re-announce, relax the rule, or escalate to a person).
    """
    eligible = [bid for bid in bids if bid.confidence >= min_confidence]
    if not eligible:
        return None
    # Values are rounded: 0.6 / 0.2 is 2.9999999999999996 in floating point, yet ties 0.9 / 0.3.
    return min(eligible, key=lambda bid: (-round(bid.value, 9), bid.cost, bid.agent))
