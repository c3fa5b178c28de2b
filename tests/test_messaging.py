"""labkit.patterns.messaging: Message, the publish/subscribe Bus, and the Blackboard.

Every test is a plain function that runs its agents with asyncio.run(...): a Bus makes
worker tasks, so it must be created and used inside a running event loop.
"""
import asyncio

import pytest

from labkit.patterns.messaging import Blackboard, Bus, Message, Post
from labkit.observe.trace import Trace


def run(coroutine, timeout=2.0):
    """Run a test's coroutine; a hang (e.g. drain() never returning) fails instead of blocking."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


# Message -----------------------------------------------------------------------------------

def test_reply_swaps_sender_and_recipient_and_keeps_the_request_id():
    request = Message("planner", "critic", "Check this plan.", type="request")

    answer = request.reply("Looks fine.")

    assert (answer.sender, answer.recipient) == ("critic", "planner")
    assert answer.correlation_id == request.id
    assert answer.type == "reply"
    assert answer.content == "Looks fine."
    assert answer.id != request.id


def test_each_message_gets_its_own_id():
    ids = [Message("a", "t", i).id for i in range(5)]

    assert len(set(ids)) == 5


# Delivery ----------------------------------------------------------------------------------

def test_publish_delivers_to_every_matching_subscriber_and_returns_the_count():
    async def main():
        got = {"triager": [], "logger": [], "docs": []}
        async with Bus() as bus:
            bus.subscribe("bug.reported", lambda m: got["triager"].append(m.content), name="triager")
            bus.subscribe("bug.reported", lambda m: got["logger"].append(m.content), name="logger")
            bus.subscribe("docs.request", lambda m: got["docs"].append(m.content), name="docs")
            count = bus.publish(Message("intake", "bug.reported", "crash on save"))
            await bus.drain()
        return count, got

    count, got = run(main())

    assert count == 2
    assert got == {"triager": ["crash on save"], "logger": ["crash on save"], "docs": []}


def test_publish_with_no_subscriber_returns_zero_and_drain_returns():
    async def main():
        async with Bus() as bus:
            count = bus.publish(Message("intake", "nobody.listens", "hello"))
            await bus.drain()
        return count

    assert run(main()) == 0


def test_a_topic_pattern_matches_every_subtopic_and_nothing_else():
    async def main():
        topics = []
        async with Bus() as bus:
            bus.subscribe("bug.*", lambda m: topics.append(m.recipient), name="triager")
            for topic in ["bug.reported", "feature.request", "bug.fixed", "bug", "debug.log"]:
                bus.publish(Message("intake", topic, "..."))
            await bus.drain()
        return topics

    assert run(main()) == ["bug.reported", "bug.fixed"]


def test_accept_filter_narrows_what_a_topic_subscriber_receives():
    async def main():
        urgent = []
        async with Bus() as bus:
            bus.subscribe("bug.*", lambda m: urgent.append(m.content["title"]), name="on-call",
                          accept=lambda m: m.content["severity"] == "high")
            published = [
                bus.publish(Message("intake", "bug.reported", {"title": "typo", "severity": "low"})),
                bus.publish(Message("intake", "bug.reported", {"title": "data loss", "severity": "high"})),
                # The filter only sees messages whose topic already matches.
                bus.publish(Message("intake", "docs.request", {"title": "x", "severity": "high"})),
            ]
            await bus.drain()
        return published, urgent

    published, urgent = run(main())

    assert published == [0, 1, 0]
    assert urgent == ["data loss"]


def test_each_subscriber_sees_a_topics_messages_in_published_order_even_with_slow_handlers():
    """One worker per subscription: a slow message is never overtaken by a quicker later one."""
    delays = [0.012, 0.0, 0.008, 0.001, 0.006, 0.0, 0.01, 0.002]  # seconds, deliberately uneven

    async def main():
        seen = {"slow": [], "quick": []}

        def recorder(name, scale):
            async def handle(message):
                await asyncio.sleep(delays[message.content] * scale)
                seen[name].append(message.content)
            return handle

        async with Bus() as bus:
            bus.subscribe("plan.step", recorder("slow", 1.0), name="slow")
            bus.subscribe("plan.step", recorder("quick", 0.3), name="quick")
            for number in range(len(delays)):
                bus.publish(Message("planner", "plan.step", number))
            await bus.drain()
        return seen

    seen = run(main())

    assert seen["slow"] == list(range(len(delays)))
    assert seen["quick"] == list(range(len(delays)))


def test_order_is_kept_per_topic_when_one_subscriber_reads_several_topics():
    async def main():
        seen = []

        async def handle(message):
            await asyncio.sleep(0.004 if message.content % 2 == 0 else 0.0)
            seen.append((message.recipient, message.content))

        async with Bus() as bus:
            bus.subscribe("task.*", handle, name="worker")
            for number in range(6):
                bus.publish(Message("manager", "task.a" if number < 3 else "task.b", number))
            await bus.drain()
        return seen

    seen = run(main())

    assert [n for topic, n in seen if topic == "task.a"] == [0, 1, 2]
    assert [n for topic, n in seen if topic == "task.b"] == [3, 4, 5]


def slow_collector(got: list):
    """A handler that takes a moment, then keeps the message's content in `got`."""
    async def slow(message):
        await asyncio.sleep(0.01)
        got.append(message.content)
    return slow


def test_publish_does_not_wait_for_the_handlers():
    async def main():
        got = []
        slow = slow_collector(got)

        async with Bus() as bus:
            bus.subscribe("t", slow, name="slow")
            bus.publish(Message("a", "t", 1))
            right_after_publish = list(got)
            await bus.drain()
        return right_after_publish, got

    right_after_publish, got = run(main())

    assert right_after_publish == []
    assert got == [1]


# Unsubscribe -------------------------------------------------------------------------------

def test_unsubscribe_stops_delivery():
    async def main():
        got = {"stays": [], "leaves": []}
        async with Bus() as bus:
            bus.subscribe("news", lambda m: got["stays"].append(m.content), name="stays")
            leaving = bus.subscribe("news", lambda m: got["leaves"].append(m.content), name="leaves")
            bus.publish(Message("editor", "news", 1))
            await bus.drain()
            bus.unsubscribe(leaving)
            count = bus.publish(Message("editor", "news", 2))
            await bus.drain()
        return count, got

    count, got = run(main())

    assert count == 1
    assert got == {"stays": [1, 2], "leaves": [1]}


def test_drain_does_not_hang_after_unsubscribing_a_subscriber_with_queued_messages():
    async def main():
        got = []
        slow = slow_collector(got)

        async with Bus() as bus:
            subscription = bus.subscribe("work", slow, name="slow")
            for number in range(5):
                bus.publish(Message("manager", "work", number))
            await asyncio.sleep(0)  # the worker takes message 0 and starts sleeping
            bus.unsubscribe(subscription)
            await bus.drain()
            # The bus still counts correctly: a new subscriber's messages are waited for.
            later = []
            bus.subscribe("work", lambda m: later.append(m.content), name="later")
            bus.publish(Message("manager", "work", 99))
            await bus.drain()
        return got, later

    got, later = run(main())

    assert got == []  # message 0 was cut short, 1..4 were dropped
    assert later == [99]


def test_unsubscribing_before_the_worker_ever_ran_drops_its_messages_and_drain_returns():
    async def main():
        got = []
        async with Bus() as bus:
            subscription = bus.subscribe("work", lambda m: got.append(m.content), name="w")
            bus.publish(Message("manager", "work", 1))
            bus.publish(Message("manager", "work", 2))
            bus.unsubscribe(subscription)  # no await in between: the worker never started
            await bus.drain()
        return got

    assert run(main()) == []


def test_a_subscriber_that_unsubscribes_itself_gets_no_more_messages_and_drain_still_works():
    async def main():
        got = []

        def once(message):
            got.append(message.content)
            bus.unsubscribe(subscription)

        async with Bus() as bus:
            subscription = bus.subscribe("offer", once, name="first-taker")
            for number in range(3):
                bus.publish(Message("seller", "offer", number))
            await bus.drain()
            assert got == [0]
            later = []
            bus.subscribe("offer", lambda m: later.append(m.content), name="second")
            bus.publish(Message("seller", "offer", 99))
            await asyncio.wait_for(bus.drain(), 0.5)  # the count of unhandled messages stays right
        return later

    assert run(main()) == [99]


def test_closing_the_bus_removes_every_subscription():
    async def main():
        async with Bus() as bus:
            bus.subscribe("a", lambda m: None, name="a")
            bus.subscribe("b", lambda m: None, name="b")
        return bus.subscriptions, bus.publish(Message("x", "a", 1))

    subscriptions, count = run(main())

    assert subscriptions == []
    assert count == 0


# Failures ----------------------------------------------------------------------------------

def test_a_failing_handler_breaks_neither_the_others_nor_its_own_later_messages():
    async def main():
        got = {"picky": [], "other": []}

        async def picky(message):
            await asyncio.sleep(0)
            if message.content == "bad":
                raise RuntimeError("cannot handle bad")
            got["picky"].append(message.content)

        async with Bus() as bus:
            bus.subscribe("inbox", picky, name="picky")
            bus.subscribe("inbox", lambda m: got["other"].append(m.content), name="other")
            for content in ["good", "bad", "fine"]:
                bus.publish(Message("sender", "inbox", content))
            await bus.drain()
        return got, bus.errors

    got, errors = run(main())

    assert got == {"picky": ["good", "fine"], "other": ["good", "bad", "fine"]}
    assert len(errors) == 1
    assert errors[0].subscriber == "picky"
    assert errors[0].message.content == "bad"
    assert isinstance(errors[0].error, RuntimeError)
    assert "cannot handle bad" in str(errors[0].error)


def test_a_sync_handler_that_raises_is_reported_too():
    async def main():
        async with Bus() as bus:
            bus.subscribe("inbox", lambda m: 1 / 0, name="divider")
            bus.publish(Message("sender", "inbox", "x"))
            await bus.drain()
        return bus.errors

    errors = run(main())

    assert [(e.subscriber, e.message.content, type(e.error)) for e in errors] == [
        ("divider", "x", ZeroDivisionError)]


def test_an_accept_filter_that_raises_is_reported_and_not_fatal():
    async def main():
        got = {"broken": [], "fine": []}

        def broken_filter(message):
            return message.content["priority"] > 1  # KeyError: the content has no priority

        async with Bus() as bus:
            bus.subscribe("inbox", lambda m: got["broken"].append(m), name="broken",
                          accept=broken_filter)
            bus.subscribe("inbox", lambda m: got["fine"].append(m.content), name="fine")
            count = bus.publish(Message("sender", "inbox", {"text": "hi"}))
            await bus.drain()
        return count, got, bus.errors

    count, got, errors = run(main())

    assert count == 1  # only "fine" received it
    assert got == {"broken": [], "fine": [{"text": "hi"}]}
    assert [(e.subscriber, e.message.content) for e in errors] == [("broken", {"text": "hi"})]
    assert isinstance(errors[0].error, KeyError)


# drain() -----------------------------------------------------------------------------------

def test_drain_waits_for_messages_that_handlers_publish():
    """A chain: intake -> A -> B -> C. drain() returns only when C has handled its message."""
    async def main():
        done = []
        async with Bus() as bus:
            async def a(message):
                await asyncio.sleep(0.005)
                bus.publish(Message("A", "to.b", message.content + ["A"]))

            async def b(message):
                await asyncio.sleep(0.005)
                bus.publish(Message("B", "to.c", message.content + ["B"]))

            async def c(message):
                await asyncio.sleep(0.005)
                done.append(message.content + ["C"])

            bus.subscribe("to.a", a, name="A")
            bus.subscribe("to.b", b, name="B")
            bus.subscribe("to.c", c, name="C")
            bus.publish(Message("intake", "to.a", ["intake"]))
            await bus.drain()
            return list(done)

    assert run(main()) == [["intake", "A", "B", "C"]]


def test_request_and_reply_over_the_bus_are_matched_by_correlation_id():
    async def main():
        answers = []
        async with Bus() as bus:
            bus.subscribe("critic", lambda m: bus.publish(m.reply(f"ok: {m.content}")), name="critic")
            bus.subscribe("planner", lambda m: answers.append(m), name="planner")
            request = Message("planner", "critic", "plan v1", type="request")
            bus.publish(request)
            await bus.drain()
        return request, answers

    request, answers = run(main())

    assert [(a.sender, a.content, a.correlation_id) for a in answers] == [
        ("critic", "ok: plan v1", request.id)]


# Blackboard --------------------------------------------------------------------------------

def test_update_loses_no_change_with_200_concurrent_writers():
    async def main():
        board = Blackboard()

        async def writer(number):
            await asyncio.sleep(0)  # every writer is running before any of them writes
            await board.update("count", lambda n: n + 1, agent=f"agent-{number}", default=0)

        await asyncio.gather(*(writer(n) for n in range(200)))
        return board

    board = run(main())

    assert board.read("count") == 200
    assert [value for _, _, value in board.history] == list(range(1, 201))


def test_naive_read_await_write_loses_updates():
    """The lesson of the notebook: read, await something, write back: others' writes are lost."""
    async def main():
        board = Blackboard()

        async def writer(number):
            count = board.read("count", 0)
            await asyncio.sleep(0)  # e.g. a model call: the other writers run meanwhile
            board.write("count", count + 1, agent=f"agent-{number}")

        await asyncio.gather(*(writer(n) for n in range(200)))
        return board

    board = run(main())

    assert len(board.history) == 200  # every writer wrote...
    assert board.read("count") < 200  # ...but most increments were lost
    assert board.read("count") == 1   # here all of them: each read 0 before anyone wrote


def test_history_records_each_write_with_its_agent():
    async def main():
        board = Blackboard()
        board.write("plan", "draft", agent="planner")
        await board.update("plan", lambda p: p + " (reviewed)", agent="critic")
        board.write("budget", 100, agent="accountant")
        return board

    board = run(main())

    assert board.history == [
        ("planner", "plan", "draft"),
        ("critic", "plan", "draft (reviewed)"),
        ("accountant", "budget", 100),
    ]
    assert board.snapshot() == {"plan": "draft (reviewed)", "budget": 100}


def test_update_returns_the_new_value_and_uses_the_default_for_a_new_entry():
    async def main():
        board = Blackboard()
        first = await board.update("seen", lambda s: s | {"bug-1"}, agent="a", default=frozenset())
        second = await board.update("seen", lambda s: s | {"bug-2"}, agent="b", default=frozenset())
        return first, second

    first, second = run(main())

    assert first == {"bug-1"}
    assert second == {"bug-1", "bug-2"}


def test_read_gives_the_default_for_a_missing_entry_and_snapshot_is_a_copy():
    board = Blackboard()
    board.write("x", 1, agent="a")

    snapshot = board.snapshot()
    snapshot["x"] = 999

    assert board.read("missing") is None
    assert board.read("missing", "none yet") == "none yet"
    assert board.read("x") == 1


# Post: direct messages ---------------------------------------------------------------------

def test_post_delivers_a_message_to_its_recipient_only():
    async def main():
        post = Post(["lead", "writer", "tester"])
        request = Message("lead", "writer", "Write a docstring.", type="request")
        post.send(request)
        received = await post.receive("writer")
        return post, request, received

    post, request, received = run(main())

    assert received is request
    assert post.sent == [request]
    assert post.inboxes["tester"].empty() and post.inboxes["lead"].empty()


def test_post_to_an_unknown_agent_raises_value_error_naming_the_known_ones():
    async def main():
        post = Post(["lead", "writer"])
        with pytest.raises(ValueError, match="lead, writer") as error:
            post.send(Message("lead", "wirter", "typo in the name"))
        return post, str(error.value)

    post, error = run(main())

    assert "'wirter'" in error
    assert post.sent == []


def test_post_messages_are_traced_with_their_ids():
    async def main():
        post = Post(["lead", "writer"])
        with Trace() as run_trace:
            request = Message("lead", "writer", "Write it.", type="request")
            post.send(request)
            answer = (await post.receive("writer")).reply("Done.")
            post.send(answer)
        return run_trace, request, answer

    run_trace, request, answer = run(main())

    assert [(s.agent, s.attrs["recipient"], s.name, s.attrs["message_id"], s.attrs["correlation_id"])
            for s in run_trace.messages()] == [
        ("lead", "writer", "request", request.id, None),
        ("writer", "lead", "reply", answer.id, request.id)]
