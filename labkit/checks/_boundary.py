"""The boundary a check's questions cross: the wire format, and the side that answers.

A check never trusts an object the learner's code made. It asks the learner's function a
question (call it with these inputs) and gets the answer back as plain data: JSON's null,
booleans, numbers, strings, lists and objects, plus tuples and labkit's own dataclasses as
their fields. A value of any other type, a subclass of `str` or `list` among them, arrives as
`Unsupported(its type name)`, which equals nothing, so it is always a wrong answer.

In a learner's notebook both sides run in one process (`serve` is called directly). When
grading, `serve` runs in the submission's kernel and the check in the grader's own process:
the kernel is sent the inputs of the case being asked, nothing else, and what it sends back
can only be data.

Callables cross as handles: one the learner's code returns (a filter) stays on the kernel's
side and is called by handle; one the check hands over (a step that sleeps) is a Probe, built
on the kernel's side from its description, that keeps a journal of what happened to it.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from typing import Any, Callable, Coroutine

from ..llm import model_loop
from ..llm.usage import Ledger, Usage
from ..patterns.aggregate import Finding
from ..patterns.messaging import Message
from ..patterns.routing import Bid

MAX_ANSWER_BYTES = 256 * 1024  # an answer bigger than this is refused, not sent
MAX_INT = 2**63  # a bigger int crosses as Unsupported: no check needs one
CALL_BOUND_S = 60.0  # an async answer still waiting after this (model time) is stopped
PLAIN = (type(None), bool, int, float, str)
DATACLASSES = {cls.__name__: cls for cls in (Finding, Bid, Message, Usage)}


@dataclasses.dataclass(frozen=True, eq=False)
class Unsupported:
    """An answer of a type that cannot cross the boundary: equal to nothing but itself."""

    type_name: str

    def __repr__(self) -> str:
        return f"<a {self.type_name}>"


@dataclasses.dataclass(frozen=True)
class Handle:
    """A callable that stayed on the answering side, called by its number."""

    number: int


@dataclasses.dataclass(frozen=True)
class ProbeSpec:
    """An async step the check hands over: it sleeps `seconds`, then returns or raises.
    It returns `answer` (plain JSON data) if one is given, else "<name> done"."""

    number: int
    name: str
    seconds: float
    fails: bool = False
    answer: Any = None


class TooLarge(ValueError):
    """An answer over MAX_ANSWER_BYTES."""


# The wire format -------------------------------------------------------------------------

def encode(value: Any, handles: dict | None = None) -> Any:
    """`value` as JSON-ready data. With `handles` (the answering side), a callable is kept
    there and sent as its handle; without, a callable is Unsupported."""
    kind = type(value)
    if kind in PLAIN:
        return value
    if kind is list:
        return [encode(item, handles) for item in value]
    if kind is tuple:
        return {"__tuple__": [encode(item, handles) for item in value]}
    if kind is dict and all(type(key) is str for key in value):
        return {"__dict__": {key: encode(item, handles) for key, item in value.items()}}
    if kind in DATACLASSES.values():
        fields = {f.name: encode(getattr(value, f.name), handles) for f in dataclasses.fields(value)}
        return {"__labkit__": kind.__name__, "fields": fields}
    if kind is Ledger:
        return {"__ledger__": [encode(record, handles) for record in value.records]}
    if kind is ProbeSpec:
        return {"__probe__": dataclasses.asdict(value)}
    if kind is Handle:
        return {"__handle__": value.number}
    if callable(value) and handles is not None:
        number = len(handles) + 1
        handles[number] = value
        return {"__handle__": number}
    return {"__unsupported__": kind.__name__[:60]}


def decode(data: Any, probes: dict | None = None) -> Any:
    """The value `data` encodes, built from plain data only. With `probes` (the answering
    side), a probe's description becomes a Probe that writes to that journal. Data not of
    the format raises (TypeError, KeyError...), or decodes to Unsupported."""
    if type(data) is int and abs(data) > MAX_INT:
        return Unsupported("int too large")
    if type(data) is float and not math.isfinite(data):
        return Unsupported("float that is not finite")
    if type(data) in PLAIN:
        return data
    if type(data) is list:
        return [decode(item, probes) for item in data]
    if type(data) is not dict or len(data) > 2:
        return Unsupported(type(data).__name__)
    if "__tuple__" in data:
        return tuple(decode(item, probes) for item in data["__tuple__"])
    if "__dict__" in data:
        return {str(key): decode(item, probes) for key, item in data["__dict__"].items()}
    if data.get("__labkit__") in DATACLASSES:
        fields = {str(key): decode(item, probes) for key, item in data["fields"].items()}
        try:
            return DATACLASSES[data["__labkit__"]](**fields)
        except TypeError:
            return Unsupported(data["__labkit__"])
    if "__ledger__" in data:
        ledger = Ledger()
        for record in data["__ledger__"]:
            usage = decode(record, probes)
            if type(usage) is not Usage:
                return Unsupported("Ledger")
            ledger.add(usage)
        return ledger
    if "__probe__" in data and probes is not None:
        return Probe(ProbeSpec(**data["__probe__"]), probes)
    if "__handle__" in data:
        return Handle(int(data["__handle__"]))
    return Unsupported(str(data.get("__unsupported__", "object"))[:60])


def dumps(data: Any) -> str:
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_ANSWER_BYTES:
        raise TooLarge(f"the answer is {len(text):,} bytes, over the {MAX_ANSWER_BYTES:,} a check reads")
    return text


# The answering side ------------------------------------------------------------------------

class Probe:
    """An async step built from a ProbeSpec; its journal says what happened to it."""

    def __init__(self, spec: ProbeSpec, journals: dict) -> None:
        self.spec = spec
        self.journal = journals.setdefault(spec.number, [])

    async def __call__(self):
        self.journal.append("started")
        try:
            await asyncio.sleep(self.spec.seconds)
        except asyncio.CancelledError:
            self.journal.append("cancelled")
            raise
        if self.spec.fails:
            self.journal.append("raised")
            raise RuntimeError(f"{self.spec.name} broke")
        self.journal.append("returned")
        return f"{self.spec.name} done" if self.spec.answer is None else self.spec.answer


class Answerer:
    """Answers a check's questions: calls a function, by name or handle, with decoded inputs.

    Every question and answer is a JSON text, whichever side of a process boundary asks.
    `finish(coroutine)` runs a coroutine to its end: an async function's answer.
    """

    def __init__(self, namespace: dict, finish: Callable[[Coroutine], Any]) -> None:
        self.namespace = namespace  # where functions are found by name: the notebook's globals
        self.finish = finish
        self.handles: dict[int, Any] = {}

    def serve(self, question: str) -> str:
        """The answer to one call: its value (or what it raised), the model seconds it took,
        and the journal of each probe handed to it, as it stood when the call returned."""
        asked = json.loads(question)
        seconds, journals = 0.0, {}
        try:
            function = self._find(asked["call"])
            result = function(*decode(asked["args"], journals))
            if asyncio.iscoroutine(result):
                result, seconds, journals = self.finish(_timed(result, journals))
            answer = {"value": encode(result, self.handles)}
        except Exception as error:  # the learner's error is an answer too
            answer = {"raised": type(error).__name__[:60], "message": str(error)[:300]}
        facts = {"model_seconds": seconds,
                 "journal": {str(n): list(events) for n, events in journals.items()}}
        try:
            return dumps(answer | facts)
        except (TooLarge, ValueError) as refused:  # too big, or NaN: still an answer
            return dumps({"refused": str(refused)[:300]} | facts)

    def _find(self, target: dict):
        if "handle" in target:
            return self.handles[int(target["handle"])]
        name = target["name"]
        if name not in self.namespace:
            raise NameError(f"name {name!r} is not defined")
        return self.namespace[name]


async def _timed(coroutine: Coroutine, journals: dict) -> tuple[Any, float, dict]:
    """The coroutine's result, the model seconds it took on the loop it ran on, and the
    probes' journals as they stood when it returned (not after the loop tidies up). One that
    waits past CALL_BOUND_S is stopped: on model time, a wait for ever is over at once."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        result = await asyncio.wait_for(coroutine, CALL_BOUND_S)
    except TimeoutError:
        raise TimeoutError(f"it had not returned after {CALL_BOUND_S:g} s") from None
    seconds = loop.time() - started
    await asyncio.sleep(0)  # a step it cancelled as it returned hears of it now
    return result, seconds, {number: list(events) for number, events in journals.items()}


_kernel_answerer: Answerer | None = None


def serve_in_kernel(question: str) -> str:
    """The kernel's half when grading: answers on the notebook's own globals; an async
    function runs on the notebook's model-time loop."""
    global _kernel_answerer
    if _kernel_answerer is None:
        from IPython import get_ipython

        _kernel_answerer = Answerer(get_ipython().user_ns, model_loop.run_on_cells_loop)
    return _kernel_answerer.serve(question)
