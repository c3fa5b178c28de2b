"""Heartbeats and a watchdog: an agent whose heart stops is found and stopped, on model time."""
import asyncio

import pytest

import labkit
from labkit.llm.clock import ModelClock
from labkit.patterns.health import Heartbeats, watchdog


def on_model_time(coroutine):
    return labkit.run(coroutine, clock=ModelClock(virtual=True))


async def stuck(hearts):
    hearts.beat("router", "asking the model")
    await asyncio.sleep(1000)  # a call that never returns
    return "answered"


async def healthy(hearts):
    for minute in range(12):  # a minute of work, a beat every 5 s
        hearts.beat("triager", f"step {minute}")
        await asyncio.sleep(5)
    hearts.done("triager")
    return "triaged"


def watched(*agents, stale_after=20):
    """Run the agents under a watchdog: (the hearts, the model time each ended at, what each
    returned)."""
    hearts, took = Heartbeats(), {}

    async def timed(agent):
        try:
            return await agent(hearts)
        finally:
            took[agent.__name__] = asyncio.get_running_loop().time()

    async def main():
        async with watchdog(hearts, stale_after=stale_after):
            return await asyncio.gather(*map(timed, agents), return_exceptions=True)

    outcomes = on_model_time(main())
    return hearts, took, outcomes


def test_a_stuck_agent_is_cancelled_soon_after_stale_after():
    hearts, took, [outcome] = watched(stuck, stale_after=20)

    assert isinstance(outcome, asyncio.CancelledError)
    assert 20 < took["stuck"] <= 20 + 20 / 4  # the first check after it went stale
    assert hearts.stuck == [("router", "asking the model", took["stuck"])]
    assert hearts.last == {}  # no longer watched


def test_a_healthy_agent_beating_regularly_is_left_alone():
    hearts, took, outcomes = watched(healthy, stuck, stale_after=20)

    assert outcomes[0] == "triaged" and took["healthy"] == 60
    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert [agent for agent, _, _ in hearts.stuck] == ["router"]


@pytest.mark.parametrize("stale_after", [0, -5])
def test_a_watchdog_needs_a_positive_stale_after(stale_after):
    async def main():
        async with watchdog(Heartbeats(), stale_after=stale_after):
            pass

    with pytest.raises(ValueError, match="seconds must be positive"):
        on_model_time(main())
