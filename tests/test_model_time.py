"""Model time: a run's timing figures computed from recorded latencies, not waited for.

A canned server stands in for a cassette: it answers each request at once, stamped with the
latency its prompt asks for ("took 1.5"), so every known answer below is exact. It sits under
the session's own paced transports, where a replay's recordings come from.
"""
import asyncio
import json
import time

import httpx2
import nbformat
import pytest

import labkit
from labkit.course import run_notebook
from labkit.llm import cassettes
from labkit.llm.clock import ModelClock, session_clock
from labkit.observe.trace import Trace, span
from labkit.patterns.collaboration import parallel
from labkit.patterns.limits import Guard


class CannedServer(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """A chat completions endpoint whose answers took the time their prompt names."""

    def handle_request(self, request):
        prompt = json.loads(request.content)["messages"][-1]["content"]
        latency = prompt.split("took ")[1]
        completion = {"id": "canned", "object": "chat.completion", "created": 0, "model": "canned",
                      "choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": "done"}}],
                      "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
        return httpx2.Response(200, json=completion,
                               headers={cassettes.LATENCY_HEADER: latency})

    async def handle_async_request(self, request):
        return self.handle_request(request)


def took(seconds):
    return labkit.achat(f"took {seconds}")


@pytest.fixture
def model_time(unit_session):
    """A replay session (its clock virtual) whose calls the canned server answers."""
    assert session_clock.virtual
    for transport in unit_session.clients.transports:
        transport.inner = CannedServer()
    return unit_session


def elapsed(main):
    """The model time of a run of `main()`, from its trace."""
    async def traced():
        with Trace() as run:
            await main()
        return run
    return labkit.run(traced()).elapsed()


def test_a_chain_of_three_calls_takes_the_sum(model_time):
    async def chain():
        for seconds in (0.5, 1.25, 2.0):
            await took(seconds)

    assert elapsed(chain) == pytest.approx(3.75, abs=1e-9)


def test_a_fan_out_takes_the_slowest(model_time):
    async def fan_out():
        await asyncio.gather(*(took(seconds) for seconds in (0.5, 3.0, 1.0, 2.5)))

    assert elapsed(fan_out) == pytest.approx(3.0, abs=1e-9)


@pytest.mark.parametrize("latencies, limit, expected", [
    ([1, 1, 1, 1], 2, 2.0),   # two rounds of two
    ([3, 1, 1, 1], 2, 3.0),   # the short ones take turns beside the long one
    ([1, 1, 1, 1, 1], 1, 5.0),  # a limit of one is a sequence
    ([2, 2, 2], 4, 2.0),      # a limit above the fan-out holds nothing back
])
def test_a_fan_out_under_a_limit_queues(model_time, latencies, limit, expected):
    steps = {str(i): (lambda _, s=seconds: took(s)) for i, seconds in enumerate(latencies)}

    async def limited():
        await parallel(steps, limit=limit)

    assert elapsed(limited) == pytest.approx(expected, abs=1e-9)


def test_a_deadline_cuts_at_its_bound(model_time):
    steps = {"quick": lambda _: took(1.0), "slow": lambda _: took(30.0),
             "ci": lambda _: asyncio.sleep(60)}

    async def bounded():
        return await parallel(steps, deadline=8.0)

    wall = time.perf_counter()
    outcomes = labkit.run(bounded())
    wall = time.perf_counter() - wall

    assert {name: o.status for name, o in outcomes.items()} == {
        "quick": "done", "slow": "timed out", "ci": "timed out"}
    assert outcomes["quick"].seconds == pytest.approx(1.0)
    assert outcomes["slow"].seconds == pytest.approx(8.0)
    assert wall < 5  # 60 s of model time, not of waiting


def test_a_backoff_adds_its_sleeps(model_time):
    async def retried():
        for backoff in (0.25, 0.5, 1.0):
            await took(0.1)
            await asyncio.sleep(backoff)
        await took(0.1)

    assert elapsed(retried) == pytest.approx(0.4 + 1.75, abs=1e-9)


def test_a_blocking_call_holds_up_everything_else(model_time):
    async def mixed():
        waiting = asyncio.create_task(asyncio.sleep(1.0))
        labkit.chat("took 2.0")  # sync, inside async code: the loop stalls
        await waiting

    assert elapsed(mixed) == pytest.approx(2.0, abs=1e-9)


def test_sync_calls_move_the_sessions_clock_and_a_guard_reads_it(model_time):
    guard = Guard(max_rounds=10, max_seconds=5.0)
    with Trace() as run:
        for _ in guard:
            with span("round", agent="writer"):
                labkit.chat("took 2.0")

    assert guard.rounds == 3 and guard.reason == "time limit: 5.0 s"
    assert [round(s.duration, 9) for s in run.spans if s.name == "round"] == [2.0, 2.0, 2.0]


def test_the_same_run_gives_the_same_span_times_every_time(model_time):
    async def work():
        await asyncio.gather(took(0.75), took(0.5))
        await took(0.125)

    def spans():
        async def traced():
            with Trace() as run:
                await work()
            return [(s.name, s.start, s.end) for s in run.spans]
        return labkit.run(traced())

    assert spans() == spans()


def test_at_replay_speed_one_the_wall_clock_waits_as_model_time_says(model_time):
    with model_time.replay_speed(1):
        assert not session_clock.virtual
        started = time.perf_counter()
        model = elapsed(lambda: asyncio.gather(took(0.3), took(0.2)))
        wall = time.perf_counter() - started

    assert session_clock.virtual  # back to model time after the block
    assert 0.3 <= wall < 1.5  # it waited, about as long as the slowest call
    assert model == pytest.approx(wall, abs=0.2)  # a real clock: model time is the wall clock


def test_a_clock_refuses_to_run_backwards_or_be_pushed_when_real():
    clock = ModelClock(virtual=True)
    clock.advance(1.5)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    clock.virtual = False
    with pytest.raises(RuntimeError, match="real clock"):
        clock.advance(1)
    assert clock.now() >= 1.5


def test_a_notebooks_cells_that_await_run_on_model_time(tmp_path, monkeypatch):
    """In a real kernel, after labkit.setup: an awaiting cell's sleep is counted, not waited
    for, on one loop that lasts from cell to cell, in the context the cell was run in."""
    cells = [
        'import asyncio, os, time\nimport labkit\nlab = labkit.setup("unit", labkit.__version__)\n'
        'queue = asyncio.Queue()',
        'from labkit.llm.clock import now\nbefore, wall = now(), time.perf_counter()\n'
        'await asyncio.sleep(30)\nawait queue.put("made in one cell")\n'
        'print(round(now() - before, 3), time.perf_counter() - wall < 5)',
        'with labkit.override(model="gpt-4o"):\n'
        '    from labkit.llm.override import active_route\n'
        '    await asyncio.sleep(0)\n    print(active_route().model, await queue.get())',
        # A task left ticking between cells: model time stands still until a cell runs.
        'async def tick():\n    while True:\n        await asyncio.sleep(1)\n'
        'ticker = asyncio.create_task(tick())\nawait asyncio.sleep(0)\nleft_at = now()',
        'time.sleep(0.5)',
        'await asyncio.sleep(0)\nprint(now() - left_at)',
        # SystemExit in a cell that awaits: the cell fails, the loop lives on.
        'await asyncio.sleep(0)\nraise SystemExit(3)',
        'await asyncio.sleep(2)\nprint("the loop lives on")',
    ]
    notebook = tmp_path / "model_time.ipynb"
    code = [nbformat.v4.new_code_cell(c) for c in cells]
    code[-2].metadata["tags"] = ["raises-exception"]
    nbformat.write(nbformat.v4.new_notebook(cells=code), notebook)
    monkeypatch.setenv("LABKIT_CASSETTE_DIR", str(tmp_path / "cassettes"))  # the kernel's too

    result = run_notebook(notebook, inplace=True, show_progress=False)

    assert result.ok, result.error
    done = nbformat.read(notebook, as_version=4).cells
    printed = [cell.outputs[0]["text"] for cell in (done[1], done[2], done[5], done[7])]
    assert printed == ["30.0 True\n", "gpt-4o made in one cell\n", "0.0\n", "the loop lives on\n"]
    assert done[6].outputs[0]["ename"] == "SystemExit"


def test_a_grader_never_waits_for_real(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_CASSETTE_DIR", str(tmp_path))
    monkeypatch.setenv("LABKIT_GRADING", "1")
    lab = labkit.setup("unit", labkit.__version__)

    with lab.replay_speed(1):
        assert session_clock.virtual  # what a learner would wait for is counted instead


def test_while_real_io_is_watched_model_time_follows_the_wall_clock():
    """A timeout still fires when a socket is watched (jumping would skip the real wait)."""
    import socket

    async def wait_on_a_quiet_socket():
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        heard = loop.create_future()
        loop.add_reader(ours, lambda: heard.set_result(ours.recv(1)))
        try:
            await asyncio.wait_for(heard, 0.2)
        except TimeoutError:
            return loop.time()
        finally:
            loop.remove_reader(ours)
            ours.close()
            theirs.close()

    wall = time.perf_counter()
    model = labkit.run(wait_on_a_quiet_socket(), clock=ModelClock(virtual=True))
    wall = time.perf_counter() - wall

    assert 0.2 <= model < 1 and wall < 2
