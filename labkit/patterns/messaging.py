"""How agents talk: addressed messages, a publish/subscribe bus, and a shared blackboard.

    post = Post(["lead", "writer"])    # direct: a message names its one recipient
    post.send(Message("lead", "writer", "Write a docstring for ...", type="request"))

    async with Bus() as bus:
        bus.subscribe("bug.*", handler, name="triager")
        bus.publish(Message("intake", "bug.reported", {"title": "..."}))
        await bus.drain()              # wait until every subscriber has handled it

Each subscription has its own queue and worker task: a publisher never waits for a
subscriber, a slow or failing handler never holds up the others, and each subscriber
sees a topic's messages in the order they were published.
"""
from __future__ import annotations

import asyncio
import inspect
import itertools
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Callable

from ..observe import trace

_message_ids = itertools.count(1)


@dataclass(frozen=True)
class Message:
    """One message. `recipient` is an agent's name (direct) or a topic (published)."""

    sender: str
    recipient: str
    content: Any
    type: str = "inform"  # e.g. "request", "reply", "inform", "bid"
    correlation_id: int | None = None  # a reply carries the id of the request it answers
    id: int = field(default_factory=lambda: next(_message_ids))

    def reply(self, content: Any, type: str = "reply") -> Message:
        """The answer to this message: back to its sender, with this message's id."""
        return Message(self.recipient, self.sender, content, type, correlation_id=self.id)


class Post:
    """Direct message passing: one inbox per agent, and a message reaches its recipient only."""

    def __init__(self, agents: list[str]) -> None:
        self.inboxes: dict[str, asyncio.Queue] = {name: asyncio.Queue() for name in agents}
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        if message.recipient not in self.inboxes:
            raise ValueError(f"No agent {message.recipient!r} on this post: it knows "
                             f"{', '.join(self.inboxes)}. Check the recipient's name.")
        trace.message(message.sender, message.recipient, message.type,
                      message_id=message.id, correlation_id=message.correlation_id)
        self.sent.append(message)
        self.inboxes[message.recipient].put_nowait(message)

    async def receive(self, agent: str) -> Message:
        """The next message in `agent`'s inbox, waiting for one if it is empty."""
        return await self.inboxes[agent].get()


@dataclass(eq=False)
class Subscription:
    topic: str  # a topic or a pattern: "bug.reported", "bug.*"
    handler: Callable[[Message], Any]
    name: str
    accept: Callable[[Message], bool] | None = None  # a filter on top of the topic
    queue: asyncio.Queue = field(default_factory=asyncio.Queue, repr=False)
    worker: asyncio.Task | None = field(default=None, repr=False)

    def wants(self, message: Message) -> bool:
        return fnmatchcase(message.recipient, self.topic) and (
            self.accept is None or bool(self.accept(message)))


@dataclass
class DeliveryError:
    subscriber: str
    message: Message
    error: Exception


class Bus:
    """Publish/subscribe: publishers name a topic, never the agents that will read it."""

    def __init__(self) -> None:
        self.subscriptions: list[Subscription] = []
        self.errors: list[DeliveryError] = []  # handlers that raised; delivery went on
        self._unhandled = 0  # queued or being handled, over all subscriptions
        self._all_handled = asyncio.Event()
        self._all_handled.set()

    async def __aenter__(self) -> Bus:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def subscribe(self, topic: str, handler: Callable[[Message], Any], *, name: str,
                  accept: Callable[[Message], bool] | None = None) -> Subscription:
        """Call `handler(message)` (a function or a coroutine function) for each matching message."""
        subscription = Subscription(topic, handler, name, accept)
        subscription.worker = asyncio.get_running_loop().create_task(self._deliver(subscription))
        self.subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """No more messages for this subscription; what it has queued is dropped."""
        self.subscriptions.remove(subscription)
        dropped = 0
        while not subscription.queue.empty():  # a handler may unsubscribe itself mid-queue
            subscription.queue.get_nowait()
            dropped += 1
        subscription.worker.cancel()  # a message being handled counts as done when it stops
        self._handled(dropped)

    def publish(self, message: Message) -> int:
        """Queue `message` for every subscription that wants it; returns how many."""
        receivers = [s for s in self.subscriptions if self._wants(s, message)]
        for subscription in receivers:
            trace.message(message.sender, subscription.name, message.type,
                          topic=message.recipient, message_id=message.id)
            # Handlers run in the publisher's trace, whatever was open when they subscribed.
            subscription.queue.put_nowait((message, trace.active_trace()))
        self._unhandled += len(receivers)
        if receivers:
            self._all_handled.clear()
        return len(receivers)

    async def drain(self) -> None:
        """Wait until every queued message has been handled (including ones published meanwhile)."""
        await self._all_handled.wait()

    async def close(self) -> None:
        for subscription in list(self.subscriptions):
            self.unsubscribe(subscription)

    def _wants(self, subscription: Subscription, message: Message) -> bool:
        try:
            return subscription.wants(message)
        except Exception as error:  # a broken filter is that subscriber's problem only
            self.errors.append(DeliveryError(subscription.name, message, error))
            return False

    async def _deliver(self, subscription: Subscription) -> None:
        while True:
            message, run = await subscription.queue.get()
            try:
                with trace.recording_into(run):
                    result = subscription.handler(message)
                    if inspect.isawaitable(result):
                        await result
            except Exception as error:
                self.errors.append(DeliveryError(subscription.name, message, error))
            finally:
                self._handled(1)

    def _handled(self, count: int) -> None:
        self._unhandled -= count
        if self._unhandled == 0:
            self._all_handled.set()


class Blackboard:
    """Shared memory: agents read and write named entries, and every write is kept in `history`.

    `update` is the safe way to change an entry several agents write: it reads and writes
    under one lock, so no agent's change is lost to another writing at the same time.
    """

    def __init__(self) -> None:
        self._entries: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self.history: list[tuple[str, str, Any]] = []  # (agent, key, value)

    def read(self, key: str, default: Any = None) -> Any:
        return self._entries.get(key, default)

    def write(self, key: str, value: Any, *, agent: str) -> None:
        """Replace an entry. Fine for an entry one agent owns; racy for shared ones."""
        self._entries[key] = value
        self.history.append((agent, key, value))
        trace.message(agent, "blackboard", "write", key=key)

    async def update(self, key: str, change: Callable[[Any], Any], *, agent: str,
                     default: Any = None) -> Any:
        """Set the entry to `change(current value)`, with no other writer in between."""
        async with self._lock:
            value = change(self._entries.get(key, default))
            self.write(key, value, agent=agent)
            return value

    def snapshot(self) -> dict[str, Any]:
        return dict(self._entries)
