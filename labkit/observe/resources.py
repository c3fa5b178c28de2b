"""What a run costs the machine, per agent: model time, tokens, CPU time, memory, open tasks.

    with Meter(run, Limits(steps=50)) as meter:   # watches every span `run` opens and closes
        ...                                        # an agent past a limit is stopped: Runaway
    meter.frame()                                  # one row per agent

Model time and tokens come from the trace's model calls (the same on every replay). CPU time,
memory and tasks are measured on this process (`time.process_time`, `tracemalloc`, asyncio's
task list), so they vary from run to run: compare them, never expect them to the digit. Agents
that run at once share one process, so their CPU and memory overlap; run them one at a time
to tell them apart.
"""
from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections import defaultdict
from dataclasses import asdict, dataclass

from .trace import Span, Trace


class Runaway(RuntimeError):
    """An agent went past one of the run's limits; the message names the agent and the limit."""


@dataclass(frozen=True)
class Limits:
    steps: int | None = None  # step spans one agent may open in the run
    tokens: int | None = None  # tokens one agent may spend in the run
    open_tasks: int | None = None  # asyncio tasks open at once, in the whole process
    memory_mb: float | None = None  # peak traced memory of the process


@dataclass
class AgentUsage:
    agent: str
    steps: int = 0
    model_s: float = 0.0
    tokens: int = 0
    cpu_s: float = 0.0
    peak_mb: float = 0.0
    most_open_tasks: int = 0


class Meter:
    """Watches one trace's spans as they open and close, and stops a runaway agent."""

    def __init__(self, run: Trace, limits: Limits = Limits()) -> None:
        self.run, self.limits = run, limits
        self.agents: dict[str, AgentUsage] = defaultdict(lambda: AgentUsage(""))
        self._cpu_at_open: dict[int, float] = {}
        self._steps: dict[int, Span] = {}  # the step spans seen, to find a step's parents
        self._started_tracemalloc = False

    def __enter__(self) -> Meter:
        if not tracemalloc.is_tracing():
            tracemalloc.start()
            self._started_tracemalloc = True
        tracemalloc.reset_peak()
        self.run.watchers.append(self)
        return self

    def __exit__(self, *exc) -> None:
        self.run.watchers.remove(self)
        if self._started_tracemalloc:
            tracemalloc.stop()

    def _usage(self, agent: str) -> AgentUsage:
        usage = self.agents[agent]
        usage.agent = agent
        return usage

    def opened(self, span: Span) -> None:
        usage = self._usage(span.agent)
        usage.most_open_tasks = max(usage.most_open_tasks, _open_tasks())
        if span.kind != "step":
            return
        usage.steps += 1
        self._steps[span.id] = span
        if self._outermost(span):
            self._cpu_at_open[span.id] = time.process_time()
        limits = self.limits
        if limits.steps is not None and usage.steps > limits.steps:
            raise Runaway(f"{span.agent} opened step {usage.steps} ({span.name!r}), past its "
                          f"limit of {limits.steps} steps a run: is it looping?")
        if limits.open_tasks is not None and usage.most_open_tasks > limits.open_tasks:
            raise Runaway(f"{usage.most_open_tasks} asyncio tasks are open as {span.agent} starts "
                          f"{span.name!r}, past the limit of {limits.open_tasks}: something starts "
                          "tasks without waiting for them.")

    def closed(self, span: Span) -> None:
        usage = self._usage(span.agent)
        if span.kind == "llm":
            usage.model_s += span.duration
            usage.tokens += span.attrs.get("tokens", 0)
        if span.id in self._cpu_at_open:
            usage.cpu_s += time.process_time() - self._cpu_at_open.pop(span.id)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            usage.peak_mb = max(usage.peak_mb, peak)
            tracemalloc.reset_peak()  # the next step's peak is its own
            if self.limits.memory_mb is not None and peak > self.limits.memory_mb:
                raise Runaway(f"{span.agent}'s step {span.name!r} took the process to {peak:.0f} "
                              f"MB, past the limit of {self.limits.memory_mb:g} MB.")
        if self.limits.tokens is not None and usage.tokens > self.limits.tokens:
            raise Runaway(f"{span.agent} has spent {usage.tokens} tokens, past its limit of "
                          f"{self.limits.tokens} a run.")

    def _outermost(self, span: Span) -> bool:
        """A step not inside another step of the same agent: its CPU is counted once."""
        parent = self._steps.get(span.parent)
        while parent is not None:
            if parent.agent == span.agent:
                return False
            parent = self._steps.get(parent.parent)
        return True

    def frame(self):
        """One row per agent, in the order they first ran."""
        import pandas as pd

        rows = [asdict(usage) for usage in self.agents.values()]
        return pd.DataFrame(rows).round({"model_s": 3, "cpu_s": 3, "peak_mb": 2})

    def totals(self) -> dict:
        """The run's own figures: model time end to end, and the sums and peaks over agents."""
        agents = self.agents.values()
        return {"model_s": round(self.run.elapsed(), 3), "tokens": sum(a.tokens for a in agents),
                "cpu_s": round(sum(a.cpu_s for a in agents), 3),
                "peak_mb": round(max((a.peak_mb for a in agents), default=0.0), 2),
                "most_open_tasks": max((a.most_open_tasks for a in agents), default=0)}


def _open_tasks() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # no event loop runs here: no tasks
        return 0
