"""labkit/observe/resources.py: usage per agent from a trace's spans, and runaways stopped."""
import asyncio

import pytest

import labkit
from labkit import Agent
from labkit.llm.scripted import ScriptedModel
from labkit.observe import trace, viz
from labkit.observe.resources import Limits, Meter, Runaway
from labkit.observe.trace import Trace


def test_model_time_tokens_and_steps_per_agent(unit_session):
    agent = Agent("writer", "write", "Write.")
    run = Trace()
    with labkit.override(client=ScriptedModel(["one two", "three"])), run, Meter(run) as meter:
        for _ in range(2):
            with trace.span("turn", agent="writer"):
                agent.ask("Say it.")
    usage = meter.agents["writer"]
    assert usage.steps == 4  # two turns, each with the agent's own step inside
    assert usage.tokens == run.tokens("writer") == (3 + 2) + (3 + 1)  # prompt "Write." "Say it."
    assert usage.cpu_s >= 0 and usage.peak_mb > 0
    assert meter.totals()["tokens"] == 9
    assert list(meter.frame()["agent"]) == ["writer"]
    assert run.watchers == []  # the meter let go of the trace


def test_a_looping_agent_is_stopped_at_its_step_limit():
    run = Trace()
    with run, Meter(run, Limits(steps=3)), pytest.raises(Runaway, match="bouncer.*step 4.*3 steps"):
        while True:
            with trace.span("bounce", agent="bouncer"):
                pass


def test_tasks_started_without_waiting_are_caught():
    async def storm():
        async def hang():
            with trace.span("attempt", agent="retrier"):
                await asyncio.sleep(60)
        tasks = [asyncio.create_task(hang()) for _ in range(30)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
    run = Trace()
    with run, Meter(run, Limits(open_tasks=10)), pytest.raises(Runaway, match="tasks are open"):
        labkit.run(storm())


def test_the_waterfall_marks_the_failing_step():
    with Trace() as run:
        with trace.span("fine", agent="a"):
            pass
        with pytest.raises(KeyError), trace.span("broken", agent="b"):
            raise KeyError("x")
    figure = viz.waterfall(run)
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert labels == ["fine", "✗ broken"]
    with pytest.raises(ValueError, match="no steps"):
        viz.waterfall(Trace())
