"""Fan-out under latency replay: how much of the ideal labkit's parallel runner keeps, and what
labkit adds per agent message over a bare asyncio loop making the same calls. One run.

    python bench/fanout.py [--repeat 3]   measure, replaying cassettes/bench_fanout/
    python bench/fanout.py --record       record that cassette from a live model (make cassettes)
    python bench/fanout.py --check        replay the workload once; fail if a recording is unused

The workload: a security analyst reviews 16 functions of examples/bugtracker, as in notebook 02.
- efficiency, at replay speed 1 (each answer takes the time it took when recorded):
  ideal wall time (the slowest of the N calls) / measured wall time, for N = 2, 4, 8, 16.
- replay cost, at replay speed 0 (answers at once, so the time is all code): wall time per
  call through labkit (Agent.aask in parallel(), traced, priced) beside the bare openai
  client in asyncio.gather. Both go through the same cassette and transport.
"""
from __future__ import annotations

import ast
import asyncio
import statistics
import sys
import textwrap
import time

import openai

import _recording  # bench/'s own: this script's folder is on the path
import labkit
from labkit import Agent
from labkit.llm import cassettes
from labkit.llm.clients import REPLAY_BASE_URL
from labkit.llm.config import REPO_ROOT
from labkit.llm.scripted import ScriptedModel
from labkit.observe import trace
from labkit.patterns.collaboration import parallel

CASSETTE = "bench_fanout"
SIZES = [2, 4, 8, 16]
SECURITY = Agent("security", "review security", "You review Python code for security flaws such "
                 "as SQL built from user input. Say if the function has a flaw.")
FLAW = {"title": "flaw", "type": "object", "required": ["flaw", "category", "problem"],
        "properties": {"flaw": {"type": "boolean"},
                       "category": {"enum": ["security", "performance", "tests", "style"]},
                       "problem": {"type": "string", "maxLength": 60}}}
MAX_TOKENS = 130


def prompts() -> list[str]:
    """One review prompt per function of the codebase, the first max(SIZES), in a fixed order."""
    found = []
    for module in ["models", "store", "search", "report", "triage"]:
        path = REPO_ROOT / "examples" / "bugtracker" / "bugtracker" / f"{module}.py"
        text = path.read_text()
        functions = sorted((node for node in ast.walk(ast.parse(text))
                            if isinstance(node, ast.FunctionDef)), key=lambda node: node.lineno)
        for node in functions:
            source = textwrap.dedent(ast.get_source_segment(text, node, padded=True))
            found.append(f"File bugtracker/{module}.py, function {node.name}:\n{source}")
    return found[:max(SIZES)]


async def through_labkit(calls: list[str]) -> tuple[float, float]:
    """(wall seconds, slowest recorded latency) for the calls through labkit's runner."""
    steps = {str(i): (lambda _, prompt=prompt: SECURITY.aask(prompt, schema=FLAW,
                                                             max_tokens=MAX_TOKENS))
             for i, prompt in enumerate(calls)}
    with trace.Trace():
        started = time.perf_counter()
        outcomes = await parallel(steps)
        wall = time.perf_counter() - started
    failed = [o for o in outcomes.values() if not o.ok]
    if failed:
        raise SystemExit(f"A replayed call failed: {failed[0].error}")
    return wall, max(o.value.usage.latency_s for o in outcomes.values())


def requests_of(calls: list[str]) -> list[dict]:
    """The requests labkit sends for these calls, caught by a scripted model: the bare client
    sends the same bytes, so it replays the same recordings."""
    catcher = ScriptedModel(lambda messages: '{"flaw": false, "category": "style", "problem": ""}')
    with labkit.override(client=catcher):
        for prompt in calls:
            SECURITY.ask(prompt, schema=FLAW, max_tokens=MAX_TOKENS)
    labkit.ledger.clear()
    return catcher.requests


async def through_bare_client(client: openai.AsyncOpenAI, requests: list[dict]) -> tuple[float, float]:
    """(wall seconds, slowest recorded latency) for the same calls with the SDK alone."""
    started = time.perf_counter()
    raws = await asyncio.gather(*(client.chat.completions.with_raw_response.create(**request)
                                  for request in requests))
    wall = time.perf_counter() - started
    return wall, max(float(raw.headers[cassettes.LATENCY_HEADER]) for raw in raws)


async def measure(lab, calls: list[str], repeat: int) -> None:
    bare = openai.AsyncOpenAI(base_url=REPLAY_BASE_URL, api_key="no-key-needed", max_retries=0,
                              http_client=openai.DefaultAsyncHttpxClient(
                                  transport=lab.clients.transports[1]))
    requests = dict(zip(calls, requests_of(calls)))

    def bare_runner(batch):
        return through_bare_client(bare, [requests[prompt] for prompt in batch])

    async def runs(runner, batch, times):
        return [await runner(batch) for _ in range(times)]

    print(f"{'N':>3} {'efficiency':>11} {'bare loop':>10}   (replay speed 1: ideal / wall)")
    for n in SIZES:
        with lab.replay_speed(1):
            ours = await runs(through_labkit, calls[:n], repeat)
            theirs = await runs(bare_runner, calls[:n], repeat)
        print(f"{n:>3} {statistics.median(ideal / wall for wall, ideal in ours):>11.2f} "
              f"{statistics.median(ideal / wall for wall, ideal in theirs):>10.2f}")

    # Replay cost: every call, many times over, at speed 0; the median batch, per call.
    with lab.replay_speed(0):
        await runs(through_labkit, calls, 2)  # warm both paths up
        await runs(bare_runner, calls, 2)
        ours = statistics.median(wall for wall, _ in await runs(through_labkit, calls, 10 * repeat))
        theirs = statistics.median(wall for wall, _ in await runs(bare_runner, calls, 10 * repeat))
    per_call, bare_per_call = ours / len(calls) * 1e3, theirs / len(calls) * 1e3
    print(f"replay cost: {per_call:.2f} ms a call through labkit, {bare_per_call:.2f} ms with the "
          f"bare SDK ({per_call / bare_per_call:.2f} x)")


async def ask_each(calls: list[str]) -> None:
    """Every call once, one at a time: each recorded latency is the model's alone."""
    for prompt in calls:
        await SECURITY.aask(prompt, schema=FLAW, max_tokens=MAX_TOKENS)


def main() -> int:
    parser, _ = _recording.arguments(__doc__, CASSETTE)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    args = parser.parse_args()
    lab = _recording.open_cassette(args, CASSETTE)
    calls = prompts()
    try:
        if args.record or args.check:
            asyncio.run(ask_each(calls))
            return _recording.exit_code(_recording.unused(lab))
        asyncio.run(measure(lab, calls, args.repeat))
    finally:
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
