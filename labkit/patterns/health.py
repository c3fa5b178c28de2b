"""State monitoring: each agent beats a heart while it works; a watchdog finds the one whose
heart stopped (stuck on a call that never returns) and stops its task.

    hearts = Heartbeats()
    async def triage(report):
        hearts.beat("triager", "asking the model")
        ...
    async with watchdog(hearts, stale_after=20):    # checks every stale_after / 4 seconds
        await asyncio.gather(...)
    hearts.stuck                                   # [(agent, what it was doing, seconds)]

Seconds are the event loop's: model time on labkit's loop, so a stuck agent is found at the
same moment on every run, with no wall-clock wait.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class Beat:
    doing: str
    at: float
    task: asyncio.Task | None


class Heartbeats:
    def __init__(self) -> None:
        self.last: dict[str, Beat] = {}
        self.stuck: list[tuple[str, str, float]] = []  # what the watchdog found, in order

    def beat(self, agent: str, doing: str) -> None:
        """`agent` is alive and doing `doing`; the task it runs in is the one a watchdog stops."""
        self.last[agent] = Beat(doing, asyncio.get_running_loop().time(), asyncio.current_task())

    def done(self, agent: str) -> None:
        """`agent` has finished: no heartbeat is expected from it any more."""
        self.last.pop(agent, None)

    def stale(self, after: float) -> list[tuple[str, Beat]]:
        now = asyncio.get_running_loop().time()
        return [(agent, beat) for agent, beat in self.last.items()
                if now - beat.at > after and not (beat.task and beat.task.done())]  # done: not stuck


@asynccontextmanager
async def watchdog(hearts: Heartbeats, *, stale_after: float, every: float | None = None):
    """While the block runs, every `every` seconds cancel the task of each agent silent for
    more than `stale_after` seconds, and note it in `hearts.stuck`."""
    if stale_after <= 0:
        raise ValueError(f"watchdog(stale_after={stale_after}): seconds must be positive.")
    every = every or stale_after / 4

    async def watch():
        while True:
            await asyncio.sleep(every)
            for agent, beat in hearts.stale(stale_after):
                now = asyncio.get_running_loop().time()
                hearts.stuck.append((agent, beat.doing, round(now - beat.at, 3)))
                hearts.done(agent)
                if beat.task is not None:
                    beat.task.cancel(f"{agent} was silent for {now - beat.at:.0f} s while {beat.doing}")

    watcher = asyncio.create_task(watch())
    try:
        yield hearts
    finally:
        watcher.cancel()
