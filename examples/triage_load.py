"""Notebook 05's system under load, and bench/load.py's: notebook 04's triage agents
(examples/triage_costs.py) as a service, behind backpressure, a requests-per-second limit and a
tokens-per-minute limit, answered by model replicas through a balancer, watched by metrics.

    service = Service(balancer, per_second=5, tokens_per_minute=20_000, capacity=12)
    served = await service.load(bugs)                      # every request at once
    served = await service.load(bugs, arrivals_per_s=25)   # an open stream of arrivals

Each request is timed on model time: when it arrived, when it went out to a replica (after
the limits), and when it was done. Every limit is optional: Service(balancer) is the baseline,
with nothing between the callers and the replicas.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

import openai

from labkit.llm.chat import request_for
from labkit.llm.clock import now
from labkit.llm.replicas import ReplicaError
from labkit.llm.session import active_session
from labkit.observe.metrics import Metrics, percentile
from labkit.patterns.balancing import Balancer
from labkit.patterns.throughput import Admission, Busy, TokensPerMinute, estimate_tokens
from labkit.patterns.throughput import requests_per_second

from intake import REPORTS
from triage_costs import PRICED_AS, SHORT, TICKET

MAX_TOKENS = 30


@dataclass(frozen=True)
class Served:
    """One request's fate: "ok", "invalid" (answered, not a valid ticket), "busy" (refused by
    backpressure) or "error"; its answer; and its model times."""

    bug: str
    status: str
    answer: dict | None
    arrived: float
    sent: float | None  # when it left for a replica; None if it never did
    done: float
    tokens: int = 0
    message: str = ""


def is_ticket(answer) -> bool:
    props = TICKET["properties"]
    return (type(answer) is dict and answer.get("severity") in props["severity"]["enum"]
            and answer.get("component") in props["component"]["enum"])


class Service:
    """The triager as a service: `await service.triage(bug)` or `await service.load(bugs)`."""

    def __init__(self, balancer: Balancer, *, per_second: float | None = None,
                 tokens_per_minute: int | None = None, capacity: int | None = None,
                 admit=None, priority=lambda bug: "normal", agent=SHORT,
                 tier: str = "short prompt", metrics: Metrics | None = None) -> None:
        self.balancer, self.agent, self.priced_as = balancer, agent, PRICED_AS[tier]
        self.per_second = requests_per_second(per_second) if per_second else None
        self.tokens = TokensPerMinute(tokens_per_minute) if tokens_per_minute else None
        self.admission = Admission(capacity, rule=admit) if capacity else None
        self.priority = priority  # what the door knows of a request before it is served
        self.metrics = metrics if metrics is not None else Metrics()
        self.most_in_system = 0  # the deepest the service's queue ever was: its memory bound
        self._in_system = 0

    async def triage(self, bug: str) -> Served:
        arrived = now()
        try:
            if self.admission is None:
                return await self._inside(bug, arrived)
            async with self.admission.admit(self.priority(bug)):
                return await self._inside(bug, arrived)
        except Busy as refusal:
            self.metrics.record_error(self.agent.name, active_session().model, "busy")
            return Served(bug, "busy", None, arrived, None, now(), message=str(refusal))

    async def _inside(self, bug: str, arrived: float) -> Served:
        self._in_system += 1
        self.most_in_system = max(self.most_in_system, self._in_system)
        try:
            if self.tokens is None:
                await self._pace()
                return await self._ask(bug, arrived, None)
            request = request_for(REPORTS[bug], system=self.agent.instructions, schema=TICKET,
                                  max_tokens=MAX_TOKENS)
            # Tokens first, then the rate: requests that waited together for the token window
            # must still leave one by one, or they break the requests-per-second limit.
            async with self.tokens.reserve(estimate_tokens(request)) as spend:
                await self._pace()
                return await self._ask(bug, arrived, spend)
        finally:
            self._in_system -= 1

    async def _pace(self) -> None:
        if self.per_second is not None:
            await self.per_second.acquire()

    async def _ask(self, bug: str, arrived: float, spend) -> Served:
        sent = now()
        try:
            reply = await self.balancer.aask(self.agent, REPORTS[bug], schema=TICKET,
                                             max_tokens=MAX_TOKENS, priced_as=self.priced_as)
        except (openai.APIError, ReplicaError) as error:
            self.metrics.record_error(self.agent.name, active_session().model, "error")
            return Served(bug, "error", None, arrived, sent, now(), message=str(error)[:200])
        if spend is not None:
            spend.settle(reply.usage.total_tokens)
        try:
            answer = reply.data
        except ValueError:
            answer = None
        valid = is_ticket(answer)
        self.metrics.record(reply.usage, ok=valid)
        return Served(bug, "ok" if valid else "invalid", answer, arrived, sent, now(),
                      tokens=reply.usage.total_tokens)

    async def load(self, bugs: list[str], *, arrivals_per_s: float | None = None) -> list[Served]:
        """Every bug's request: all at once, or arriving `arrivals_per_s` a second."""
        if arrivals_per_s is None:
            return list(await asyncio.gather(*[self.triage(bug) for bug in bugs]))
        tasks = []
        for bug in bugs:
            tasks.append(asyncio.create_task(self.triage(bug)))
            await asyncio.sleep(1 / arrivals_per_s)
        return list(await asyncio.gather(*tasks))


def most_in_window(times: list[float], width: float = 1.0) -> int:
    """The most of `times` in any window [t, t + width): what a rate limit is judged on."""
    times = sorted(times)
    most, first = 0, 0
    for last, time in enumerate(times):
        while round(times[first] + width - time, 6) <= 0:  # a float's last digits are no time
            first += 1
        most = max(most, last - first + 1)
    return most


def most_tokens_in_window(served: list[Served], width: float = 60.0) -> int:
    """The most tokens spent by requests sent in any window [t, t + width)."""
    sends = sorted((s.sent, s.tokens) for s in served if s.sent is not None)
    most = total = first = 0
    for sent, tokens in sends:
        total += tokens
        while round(sends[first][0] + width - sent, 6) <= 0:
            total -= sends[first][1]
            first += 1
        most = max(most, total)
    return most


def report(served: list[Served], rate: float | None = None) -> dict:
    """A load run in one row: throughput, p95, what was lost or refused, the busiest window."""
    answered = [s for s in served if s.status in ("ok", "invalid")]
    start = min(s.arrived for s in served)
    end = max(s.done for s in served)
    sent = [s.sent for s in served if s.sent is not None]
    row = {"requests": len(served), "ok": sum(s.status == "ok" for s in served),
           "busy": sum(s.status == "busy" for s in served),
           "lost": sum(s.status in ("error", "invalid") for s in served),
           "model s": round(end - start, 2),
           "throughput req/s": round(len(answered) / (end - start), 2) if end > start else 0.0,
           "p95 s": round(percentile([s.done - s.arrived for s in answered], 95) or 0.0, 2),
           "most in 1 s": most_in_window(sent)}
    if rate:
        row["x limit"] = round(row["throughput req/s"] / rate, 2)
    return row
