"""Load balancing: which model replica (llm/replicas.py) takes the next request.

    balancer = Balancer(replicas, rule=least_outstanding)
    reply = await balancer.aask(agent, prompt, schema=..., max_tokens=...)

A rule is a plain function of plain data: given each replica's requests in flight (by name,
in the replicas' order) and the request's number, it names the replica. round_robin takes
them in turn, whatever they are doing; least_outstanding sends each request where the fewest
are in flight, so a slow replica, whose requests stay out longer, is given fewer.

slots bounds each replica's requests in flight (a pool, like a server's slots): a request over
the bound waits at the balancer, and still counts as outstanding for that replica.
"""
from __future__ import annotations

import asyncio
import sys
from collections import Counter
from typing import Callable

import openai

from ..llm.replicas import Replica, ReplicaError

Rule = Callable[[dict[str, int], int], str]


def round_robin(in_flight: dict[str, int], turn: int) -> str:
    """The replicas in turn: request 0 to the first, 1 to the second, ..."""
    names = list(in_flight)
    return names[turn % len(names)]


def least_outstanding(in_flight: dict[str, int], turn: int) -> str:
    """The replica with the fewest requests in flight; on a tie, the first of them."""
    return min(in_flight, key=in_flight.get)


class Balancer:
    """Sends each request to the replica its rule names; counts what each was sent."""

    def __init__(self, replicas: list[Replica], *, rule: Rule = least_outstanding,
                 slots: int | None = None) -> None:
        if not replicas:
            raise ValueError("Balancer([]): give it at least one started Replica.")
        if slots is not None and slots < 1:
            raise ValueError(f"slots={slots}: a replica needs at least 1 slot (None: no bound).")
        names = [replica.name for replica in replicas]
        if len(set(names)) < len(names):
            raise ValueError(f"Replicas need different names: {names}.")
        for replica in replicas:
            replica.check()  # an unreachable replica is named now, not at the first request
        self.replicas = {replica.name: replica for replica in replicas}
        self.rule = rule
        self.in_flight = dict.fromkeys(names, 0)
        self.sent: Counter[str] = Counter()
        self.most_at_once = dict.fromkeys(names, 0)  # the most each replica was answering at once
        self._answering = dict.fromkeys(names, 0)
        self._slots = {name: asyncio.Semaphore(slots or sys.maxsize) for name in names}
        self._turn = 0

    def choose(self) -> str:
        """The replica the rule names for the next request (counted as sent to it)."""
        name = self.rule(dict(self.in_flight), self._turn)
        if name not in self.replicas:
            raise ValueError(f"The rule {getattr(self.rule, '__name__', self.rule)!r} named "
                             f"{name!r}; the replicas are {', '.join(self.replicas)}.")
        self._turn += 1
        self.sent[name] += 1
        return name

    async def aask(self, agent, prompt, **options):
        """agent.aask(prompt, **options), answered by the replica the rule chooses."""
        name = self.choose()
        replica = self.replicas[name]
        self.in_flight[name] += 1  # from now: waiting for a slot counts as outstanding too
        try:
            async with self._slots[name]:
                self._answering[name] += 1
                self.most_at_once[name] = max(self.most_at_once[name], self._answering[name])
                try:
                    return await self._ask(replica, agent, prompt, options)
                finally:
                    self._answering[name] -= 1
        finally:
            self.in_flight[name] -= 1

    @staticmethod
    async def _ask(replica: Replica, agent, prompt, options: dict):
        try:
            return await agent.aask(prompt, client=replica.client, **options)
        except openai.APIConnectionError:
            raise ReplicaError(f"Replica {replica.name!r} at {replica.url} stopped answering. "
                               "Restart it, or take it out of the balancer.") from None
