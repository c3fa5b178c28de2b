"""labkit.observe.trace: spans of steps, model calls and messages, with parents and times.

Most tests check the two rules every trace must keep, whatever ran inside it:
a parent is an earlier span of the same trace, and a child's time lies within its parent's.
"""
import asyncio
import json
import time
from collections import Counter

import pytest

import labkit
from labkit.observe import trace
from labkit.agents import Agent
from labkit.patterns.messaging import Blackboard, Bus, Message
from labkit.llm.scripted import ScriptedModel
from labkit.observe.trace import Trace, span


def run(coroutine, timeout=2.0):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def assert_well_formed(run_trace):
    """Every parent is an earlier span of this trace and encloses its child in time."""
    by_id = {}
    for position, s in enumerate(run_trace.spans):
        assert s.start <= s.end, f"span {s.id} ends before it starts"
        if s.parent is not None:
            assert s.parent in by_id, (
                f"span {s.id} ({s.name}) has parent {s.parent}, not an earlier span of this trace")
            parent = by_id[s.parent]
            assert parent.start <= s.start and s.end <= parent.end, (
                f"span {s.id} ({s.name}) [{s.start}, {s.end}] is outside its parent "
                f"{parent.id} ({parent.name}) [{parent.start}, {parent.end}]")
        by_id[s.id] = s
    assert len(by_id) == len(run_trace.spans), "span ids are not unique"


# Spans -------------------------------------------------------------------------------------

def test_nested_spans_get_their_parent_and_times():
    with Trace() as run_trace:
        with span("plan", agent="manager") as plan:
            with span("research", agent="researcher") as research:
                pass
            with span("write", agent="writer") as write:
                pass
        with span("review", agent="critic") as review:
            pass

    assert [s.name for s in run_trace.spans] == ["plan", "research", "write", "review"]
    assert (plan.parent, research.parent, write.parent, review.parent) == (
        None, plan.id, plan.id, None)
    assert research.end <= write.start
    assert len(run_trace) == 4
    assert_well_formed(run_trace)


def test_span_attributes_and_kind_are_kept():
    with Trace() as run_trace:
        with span("search", agent="researcher", kind="step", query="flights") as step:
            pass

    assert step.kind == "step"
    assert step.agent == "researcher"
    assert step.attrs == {"query": "flights"}
    assert step.duration == step.end - step.start >= 0


def test_a_span_that_raises_is_still_closed_and_the_next_span_is_not_its_child():
    with Trace() as run_trace:
        with pytest.raises(RuntimeError):
            with span("fails", agent="a"):
                raise RuntimeError("boom")
        with span("next", agent="a") as after:
            pass

    assert after.parent is None
    assert_well_formed(run_trace)


def test_nothing_is_recorded_and_nothing_fails_without_an_open_trace():
    async def agents_at_work():
        async with Bus() as bus:
            bus.subscribe("t", lambda m: None, name="b")
            bus.publish(Message("a", "t", 1))
            await bus.drain()
        board = Blackboard()
        await board.update("n", lambda n: n + 1, agent="a", default=0)
        return board.read("n")

    assert trace.active_trace() is None
    with span("step", agent="a") as opened:
        assert opened is None
        assert trace.message("a", "b", "inform") is None
    assert run(agents_at_work()) == 1


def test_spans_after_the_trace_closed_are_not_added_to_it():
    with Trace() as run_trace:
        with span("inside", agent="a"):
            pass
    with span("after", agent="a"):
        trace.message("a", "b", "inform")

    assert [s.name for s in run_trace.spans] == ["inside"]
    assert trace.active_trace() is None


def test_to_json_round_trips_with_every_span():
    with Trace() as run_trace:
        with span("plan", agent="manager", note=object()):  # an attribute JSON cannot hold
            trace.message("manager", "worker", "request", topic="tasks")

    saved = json.loads(run_trace.to_json())
    spans = saved["spans"]

    assert saved["labkit"] == labkit.__version__

    assert len(spans) == len(run_trace) == 2
    plan, request = spans
    assert (plan["name"], plan["kind"], plan["agent"], plan["parent"]) == ("plan", "step", "manager", None)
    assert (request["name"], request["kind"], request["parent"]) == ("request", "message", plan["id"])
    assert isinstance(plan["attrs"]["note"], str)  # written with str(), not lost
    assert spans[1]["attrs"] == {"recipient": "worker", "topic": "tasks"}


def test_frame_has_one_row_per_span_with_attributes_as_columns():
    with Trace() as run_trace:
        with span("plan", agent="manager"):
            trace.message("manager", "worker", "request", topic="tasks")

    frame = run_trace.frame()

    assert len(frame) == 2
    assert list(frame["kind"]) == ["step", "message"]
    assert frame.loc[1, "recipient"] == "worker"


def test_entering_a_trace_again_adds_to_it_with_later_times():
    run_trace = Trace()
    with run_trace:
        with span("first", agent="a") as first:
            pass
    with run_trace:
        with span("second", agent="a") as second:
            pass

    assert run_trace.spans == [first, second]
    assert second.start >= first.end
    assert second.id != first.id


def test_span_ids_are_unique_across_traces_and_combine_keeps_every_span():
    with Trace() as one:
        with span("plan", agent="a"):
            trace.message("a", "b", "request")
    with Trace() as two:
        with span("review", agent="b"):
            pass

    combined = Trace.combine(one, two)

    assert [s.name for s in combined.spans] == ["plan", "request", "review"]
    assert len({s.id for s in combined.spans}) == 3
    assert len(one) == 2 and len(two) == 1  # the originals are unchanged
    assert_well_formed(combined)


def test_combined_traces_keep_the_runs_in_time_order():
    with Trace() as first_run:
        with span("plan", agent="a"):
            time.sleep(0.01)
    with Trace() as second_run:
        with span("review", agent="b"):
            pass

    combined = Trace.combine(first_run, second_run)

    plan, review = combined.spans
    assert review.start >= plan.end


def test_concurrent_tasks_started_in_different_spans_get_the_right_parents():
    """The current span lives in a ContextVar: each task sees the span it was started in."""
    async def worker(name, delay):
        await asyncio.sleep(delay)
        with span("work", agent=name):
            await asyncio.sleep(delay)
            trace.message(name, "manager", "done")

    async def agent(name, delay):
        with span("turn", agent=name):
            await asyncio.create_task(worker(name, delay))

    async def main():
        with Trace() as run_trace:
            # The two agents interleave: b starts after a and finishes first.
            await asyncio.gather(agent("a", 0.01), agent("b", 0.002))
        return run_trace

    run_trace = run(main())

    by_id = {s.id: s for s in run_trace.spans}
    for s in run_trace.spans:
        if s.name == "turn":
            assert s.parent is None
        else:  # "work" under its agent's "turn", "done" under its agent's "work"
            assert by_id[s.parent].agent == s.agent
    works = [s for s in run_trace.spans if s.name == "work"]
    assert [w.agent for w in works] == ["b", "a"]  # they really did interleave
    assert_well_formed(run_trace)


def test_a_trace_opened_inside_another_traces_span_has_only_its_own_parents():
    with Trace():
        with span("outer step 1", agent="a"):
            pass
        with span("outer step 2", agent="a"):
            with Trace() as inner:
                with span("inner step", agent="b"):
                    trace.message("b", "c", "inform")

    assert [s.parent for s in inner.spans] == [None, inner.spans[0].id]
    assert_well_formed(inner)


# Messages on the bus -----------------------------------------------------------------------

def test_every_bus_delivery_is_exactly_one_message_span():
    """Each (message, receiver) pair handled is one message span, with sender, recipient,
    message id and topic; a message to two subscribers is two spans."""
    async def main():
        delivered = []
        with Trace() as run_trace:
            async with Bus() as bus:
                def receiver(name):
                    async def handle(message):
                        delivered.append((message.sender, name, message.id, message.recipient))
                        await asyncio.sleep(0)
                        if name == "triager":
                            with span("triage", agent=name):
                                bus.publish(Message(name, "bug.triaged", message.content))
                    return handle

                bus.subscribe("bug.reported", receiver("triager"), name="triager")
                bus.subscribe("bug.*", receiver("logger"), name="logger")
                bus.subscribe("bug.triaged", receiver("fixer"), name="fixer")
                bus.subscribe("docs.*", receiver("writer"), name="writer")
                with span("intake", agent="intake"):
                    for title in ["crash", "typo"]:
                        bus.publish(Message("intake", "bug.reported", title))
                await bus.drain()
        return run_trace, delivered

    run_trace, delivered = run(main())

    spans = Counter((s.agent, s.attrs["recipient"], s.attrs["message_id"], s.attrs["topic"])
                    for s in run_trace.messages())
    assert spans == Counter(delivered)
    assert len(delivered) == 8  # 2 reports x (triager, logger) + 2 triaged x (logger, fixer)
    assert all(s.kind == "message" for s in run_trace.messages())
    assert_well_formed(run_trace)


def test_blackboard_writes_are_traced_as_messages_to_the_blackboard():
    async def main():
        with Trace() as run_trace:
            board = Blackboard()
            with span("plan", agent="planner") as plan:
                board.write("plan", "draft", agent="planner")
            await board.update("plan", str.upper, agent="critic")
        return run_trace, plan

    run_trace, plan = run(main())

    writes = run_trace.messages()
    assert [(w.agent, w.attrs["recipient"], w.attrs["key"], w.parent) for w in writes] == [
        ("planner", "blackboard", "plan", plan.id), ("critic", "blackboard", "plan", None)]


def test_messages_of_agents_subscribed_before_the_trace_opened_are_traced():
    async def main():
        async with Bus() as bus:
            bus.subscribe("to.a", lambda m: bus.publish(Message("A", "to.b", m.content)), name="A")
            bus.subscribe("to.b", lambda m: None, name="B")
            with Trace() as run_trace:
                bus.publish(Message("user", "to.a", "hello"))
                await bus.drain()
        return run_trace

    run_trace = run(main())

    assert [(s.agent, s.attrs["recipient"]) for s in run_trace.messages()] == [
        ("user", "A"), ("A", "B")]


def test_handler_spans_lie_within_their_parent_when_subscribing_inside_a_span():
    async def main():
        with Trace() as run_trace:
            async with Bus() as bus:
                async def handle(message):
                    with span("handle", agent="worker"):
                        await asyncio.sleep(0.002)

                with span("setup", agent="manager"):
                    bus.subscribe("work", handle, name="worker")
                bus.publish(Message("manager", "work", 1))
                await bus.drain()
        return run_trace

    assert_well_formed(run(main()))


# Model calls -------------------------------------------------------------------------------

def test_a_model_call_is_an_llm_span_with_tokens_under_the_agents_step(unit_session):
    planner = Agent("planner", "plan the trip", "You plan trips.")
    model = ScriptedModel(["Go to Oslo in May."])

    with Trace() as run_trace:
        reply = planner.ask("Where should I go?", client=model)

    step, call = run_trace.spans
    assert (step.kind, step.name, step.agent, step.parent) == ("step", "plan the trip", "planner", None)
    assert (call.kind, call.agent, call.parent) == ("llm", "planner", step.id)
    assert call.attrs["tokens"] == reply.usage.total_tokens > 0
    assert "model_latency_s" in call.attrs
    assert_well_formed(run_trace)


def test_concurrent_aask_calls_each_nest_under_their_own_agent(unit_session):
    model = ScriptedModel(lambda messages: f"answer to {messages[-1]['content']}")
    agents = [Agent(name, f"{name}'s role", f"You are {name}.") for name in ["a", "b", "c"]]

    async def main():
        with Trace() as run_trace:
            await asyncio.gather(*(agent.aask(f"question {agent.name}", client=model)
                                   for agent in agents))
        return run_trace

    run_trace = run(main())

    by_id = {s.id: s for s in run_trace.spans}
    calls = [s for s in run_trace.spans if s.kind == "llm"]
    assert len(calls) == 3
    assert all(by_id[c.parent].agent == c.agent and by_id[c.parent].kind == "step" for c in calls)
    assert sum(c.attrs["tokens"] for c in calls) == labkit.ledger.totals()["total_tokens"]
    assert_well_formed(run_trace)


def test_a_traces_tokens_are_its_model_calls_in_all_or_one_agents(unit_session):
    model = ScriptedModel(lambda messages: "one two three")
    writer, critic = Agent("writer", "write", "You write."), Agent("critic", "critique", "You judge.")

    with Trace() as run_trace:
        writer.ask("Draft it.", client=model)
        writer.ask("Again.", client=model)
        critic.ask("Judge it.", client=model)
        trace.message("writer", "critic", "a draft")
    writer_calls = [r for r in labkit.ledger.records if r.agent == "writer"]

    assert run_trace.tokens() == labkit.ledger.totals()["total_tokens"]
    assert run_trace.tokens("writer") == sum(r.total_tokens for r in writer_calls) > 0
    assert run_trace.tokens("nobody") == 0


def test_chat_outside_any_trace_still_answers(unit_session):
    reply = labkit.chat("hi", client=ScriptedModel(["hello"]))

    assert reply.text == "hello"
    assert trace.active_trace() is None
