"""Traces: every step, model call and message of a run, as spans with a parent, an agent and times.

    with trace.Trace() as run:          # record everything inside the block
        with trace.span("plan", agent="manager"):
            ...                         # model calls and messages here get "plan" as parent
    run.frame()                         # a table; run.to_json() to keep it

A step that handles a message links to it (`span(..., links=[message])`), so a message's
receiver can be found from its sender and back. A step whose block raises keeps the error.
Nothing is recorded when no Trace is open, so traced code runs the same without one.
The current span is kept in a ContextVar: asyncio tasks started inside a span inherit it,
so concurrent agents still get the right parent. Times are model time (labkit.llm.clock):
on a replay, the recorded latencies, the same on every run.
"""
from __future__ import annotations

import itertools
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace

from typing import TYPE_CHECKING

from .._version import __version__
from ..llm import clock

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Span:
    id: int
    name: str
    kind: str  # "step", "llm", "message", or an instant's: "fault", "breaker"...
    agent: str
    parent: int | None
    start: float  # model seconds since the trace opened
    end: float
    attrs: dict = field(default_factory=dict)
    links: list[int] = field(default_factory=list)  # the messages this step handles
    error: str = ""  # "TypeName: message" when the step's block raised

    @property
    def duration(self) -> float:
        return self.end - self.start


_span_ids = itertools.count(1)  # unique across traces, so traces can be combined
_open_trace: ContextVar[Trace | None] = ContextVar("labkit_open_trace", default=None)
_current_span: ContextVar[Span | None] = ContextVar("labkit_current_span", default=None)


class Trace:
    """The spans of one run, in the order they started."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._origin = clock.now()
        self._context = None
        self.watchers: list = []  # told when a span opens and closes (observe.resources)

    def __enter__(self) -> Trace:
        """Record into this trace inside the block; entering it again adds to it."""
        self._context = recording_into(self)
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    def now(self) -> float:
        """Model seconds since the trace was made."""
        return clock.now() - self._origin

    def elapsed(self) -> float:
        """Model seconds from the first span's start to the last one's end: the run's time."""
        if not self.spans:
            return 0.0
        return max(s.end for s in self.spans) - min(s.start for s in self.spans)

    def tokens(self, agent: str | None = None) -> int:
        """The tokens (prompt and completion) of the run's model calls, or of one agent's."""
        return sum(s.attrs.get("tokens", 0) for s in self.spans
                   if s.kind == "llm" and agent in (None, s.agent))

    def new_span(self, name: str, kind: str, agent: str, **attrs) -> Span:
        parent = _current_span.get()
        now = self.now()
        span = Span(next(_span_ids), name, kind, agent, parent.id if parent else None, now, now, attrs)
        self.spans.append(span)
        for watcher in self.watchers:
            watcher.opened(span)
        return span

    @classmethod
    def combine(cls, *traces: Trace) -> Trace:
        """One trace holding the spans of several (for a picture of a whole notebook)."""
        combined = cls()
        combined._origin = min((t._origin for t in traces), default=combined._origin)
        combined.spans = sorted(  # times shifted to count from the earliest trace's start
            (replace(span, start=span.start + shift, end=span.end + shift)
             for t in traces for shift in [t._origin - combined._origin] for span in t.spans),
            key=lambda span: span.start)
        return combined

    def messages(self) -> list[Span]:
        return [s for s in self.spans if s.kind == "message"]

    def frame(self) -> pd.DataFrame:
        """One row per span; attributes as columns."""
        import pandas as pd  # only when a table is asked for: a grader never does

        rows = [{k: v for k, v in asdict(s).items() if k != "attrs"} | s.attrs for s in self.spans]
        return pd.DataFrame(rows)

    def to_json(self) -> str:
        """The spans as JSON, with the labkit version that wrote them (from_json checks it)."""
        return json.dumps({"labkit": __version__, "spans": [asdict(s) for s in self.spans]},
                          indent=1, default=str)

    @classmethod
    def from_json(cls, text: str) -> Trace:
        """A trace back from `to_json`. One from another labkit, or with no spans, is refused:
        span names and attributes change between versions, and an empty one shows nothing."""
        saved = json.loads(text)
        version = saved.get("labkit") if isinstance(saved, dict) else None
        if version is None or version.split(".")[:2] != __version__.split(".")[:2]:
            raise ValueError(
                f"This trace was written by labkit {version or 'before 0.2'}, and this is labkit "
                f"{__version__}: span names and attributes differ between versions. Re-run the "
                "notebook that made it to trace it again.")
        if not saved["spans"]:
            raise ValueError("This trace has no spans: was the run inside `with Trace() as run:`?")
        run = cls()
        run.spans = [Span(**span) for span in saved["spans"]]
        return run

    def __len__(self) -> int:
        return len(self.spans)


def active_trace() -> Trace | None:
    """The open trace, or None."""
    return _open_trace.get()


@contextmanager
def recording_into(run: Trace | None):
    """Record into `run` (None: record nothing) inside the block, starting with no parent span.

    For work handed to another task, such as a bus delivering a message: it belongs to the
    trace that was open when the work was handed over.
    """
    run_token, span_token = _open_trace.set(run), _current_span.set(None)
    try:
        yield run
    finally:
        _current_span.reset(span_token)
        _open_trace.reset(run_token)


@contextmanager
def span(name: str, *, agent: str, kind: str = "step", links=(), **attrs):
    """A timed step of `agent`; spans opened inside it become its children. `links`: the
    message spans this step handles."""
    run = active_trace()
    if run is None:
        yield None
        return
    opened = run.new_span(name, kind, agent, **attrs)
    opened.links = [linked.id for linked in links if linked is not None]
    token = _current_span.set(opened)
    try:
        yield opened
    except BaseException as error:
        opened.error = f"{type(error).__name__}: {error}"[:300]
        raise
    finally:
        _current_span.reset(token)
        opened.end = run.now()
        for watcher in run.watchers:
            watcher.closed(opened)


def mark(name: str, *, kind: str, agent: str | None = None, **attrs) -> Span | None:
    """An instant in the current step, such as an injected fault or a breaker opening; its
    agent is the current step's unless given."""
    run = active_trace()
    if run is None:
        return None
    current = _current_span.get()
    return run.new_span(name, kind, agent or (current.agent if current else "system"), **attrs)


def message(sender: str, recipient: str, kind: str, **attrs) -> Span | None:
    """A message from `sender` to `recipient`: an instant, whose parent is the sender's step."""
    run = active_trace()
    if run is None:
        return None
    return run.new_span(kind, "message", sender, recipient=recipient, **attrs)


def current_span() -> Span | None:
    """The step the code runs in, or None."""
    return _current_span.get()
