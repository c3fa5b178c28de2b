"""Fan-out under latency replay: how much of the ideal labkit's parallel runner keeps, and what
labkit adds per agent message over a bare asyncio loop making the same calls. One run.

    python bench/fanout.py [--repeat 3]

The calls are notebook 02's security reviews, replayed from its cassette.
- efficiency, at replay speed 1 (each answer takes the time it took when recorded):
  ideal wall time (the slowest of the N calls) / measured wall time, for N = 2, 4, 8, 16.
- overhead, at replay speed 0 (answers at once, so the time is all code): seconds per message
  through labkit (Agent.aask in patterns.parallel, traced) / through the bare openai client in
  asyncio.gather. Both go through the same cassette and transport.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

import openai
import yaml

import labkit
from labkit import cassettes, session, trace
from labkit.agents import Agent
from labkit.patterns import parallel

NOTEBOOK = "02_collaboration_patterns"
SIZES = [2, 4, 8, 16]


def security_requests() -> list[dict]:
    """The distinct recorded request bodies of notebook 02's security analyst, in recorded order."""
    recorded = yaml.safe_load(cassettes.cassette_path(labkit.config.load(), NOTEBOOK).read_text())
    bodies = {}
    for interaction in recorded["interactions"]:
        body = json.loads(interaction["request"]["body"])
        if body["messages"][0]["content"].startswith("You review Python code for security"):
            bodies.setdefault(json.dumps(body, sort_keys=True), body)
    return list(bodies.values())


def as_agent_call(body: dict):
    """The Agent and the arguments of aask() that make exactly this request."""
    agent = Agent("security", "review security", body["messages"][0]["content"])
    schema = body["response_format"]["json_schema"]["schema"]
    return agent, body["messages"][1]["content"], {"schema": schema, "max_tokens": body["max_tokens"]}


async def through_labkit(bodies: list[dict]) -> tuple[float, float]:
    """(wall seconds, slowest recorded latency) for the calls through labkit's runner."""
    calls = [as_agent_call(body) for body in bodies]
    steps = {str(i): (lambda _, call=call: call[0].aask(call[1], **call[2]))
             for i, call in enumerate(calls)}
    with trace.Trace():
        started = time.perf_counter()
        outcomes = await parallel(steps)
        wall = time.perf_counter() - started
    failed = [o for o in outcomes.values() if not o.ok]
    if failed:
        raise SystemExit(f"A replayed call failed: {failed[0].error}")
    return wall, max(o.value.usage.latency_s for o in outcomes.values())


async def through_bare_client(client: openai.AsyncOpenAI, bodies: list[dict]) -> tuple[float, float]:
    """(wall seconds, slowest recorded latency) for the same calls with the SDK alone."""
    started = time.perf_counter()
    raws = await asyncio.gather(*(client.chat.completions.with_raw_response.create(**body)
                                  for body in bodies))
    wall = time.perf_counter() - started
    return wall, max(float(raw.headers[cassettes.LATENCY_HEADER]) for raw in raws)


async def measure(lab, bodies: list[dict], repeat: int) -> None:
    bare = openai.AsyncOpenAI(base_url=session.REPLAY_BASE_URL, api_key="no-key-needed",
                              max_retries=0, http_client=openai.DefaultAsyncHttpxClient(
                                  transport=lab.transports[1]))

    async def runs(runner, calls):
        return [await runner(calls) for _ in range(repeat)]

    print(f"{'N':>3} {'efficiency':>11} {'bare loop':>10} {'labkit overhead / bare':>23}")
    for n in SIZES:
        calls = bodies[:n]
        with lab.replay_speed(1):
            ours = await runs(through_labkit, calls)
            theirs = await runs(lambda b: through_bare_client(bare, b), calls)
        efficiency = statistics.median(ideal / wall for wall, ideal in ours)
        bare_efficiency = statistics.median(ideal / wall for wall, ideal in theirs)
        with lab.replay_speed(0):
            ours = statistics.median(wall for wall, _ in await runs(through_labkit, calls)) / n
            theirs = statistics.median(
                wall for wall, _ in await runs(lambda b: through_bare_client(bare, b), calls)) / n
        print(f"{n:>3} {efficiency:>11.2f} {bare_efficiency:>10.2f} {ours / theirs:>22.2f}x"
              f"   ({ours * 1e3:.1f} ms against {theirs * 1e3:.1f} ms a message)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    args = parser.parse_args()
    os.environ.update(LABKIT_BACKEND="replay", LABKIT_REPLAY_SPEED="0")
    lab = labkit.setup(NOTEBOOK, version=labkit.__version__)
    bodies = security_requests()
    if len(bodies) < max(SIZES):
        raise SystemExit(f"{NOTEBOOK}'s cassette has {len(bodies)} distinct security reviews; "
                         f"the bench needs {max(SIZES)}: make cassettes NOTEBOOKS={NOTEBOOK}")
    asyncio.run(measure(lab, bodies, args.repeat))
    lab.close()


if __name__ == "__main__":
    main()
