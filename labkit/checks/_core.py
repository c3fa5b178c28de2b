"""What every check shares: asking the learner's function, judging plain data, failing well.

A check calls the learner's function on cases (behaviour, never source text), prints a line
when all is right, and raises CheckFailed with feedback a learner can act on otherwise. Its
signature is always `check_<name>(learner_function, extra_cases=())`: the graded cell calls
it with the visible cases, the hidden tests again with extra ones (and those alone).

Every call goes through `ask(function, *inputs)`, across the boundary of _boundary.py: in a
learner's notebook on this side of it (in-process), when grading from the grader's process to
the submission's kernel. Either way the answer is plain data of exact types, so comparing it
with `==` is safe, and the verdict is the check's own.

A failed hidden case (one of `extra_cases`) names the rule it tests, and at most a built-in
exception's type: never its inputs, the expected answer, or the learner's error text.
"""
from __future__ import annotations

import concurrent.futures
import itertools
import json
from dataclasses import dataclass
from typing import Any, Coroutine, Iterable, NoReturn

from ..llm import model_loop
from ..llm.clock import ModelClock
from ._boundary import Answerer, Handle, ProbeSpec, Unsupported, decode, encode


class CheckFailed(AssertionError):
    """The learner's code gave a wrong answer; the message says which case and why.

    `rule` says what the failed case tests, with nothing of the case itself; `raised` names
    what the learner's code raised, if it raised: a common built-in exception's type, or "an
    exception" (LearnerError.common_type).
    """

    def __init__(self, feedback: str, *, rule: str, raised: str | None = None,
                 case: str | None = None) -> None:
        super().__init__(feedback)
        self.rule, self.raised = rule, raised
        self.case = case  # a visible case's inputs, for the instructor's report; None if hidden


COMMON_EXCEPTIONS = frozenset({"TypeError", "ValueError", "KeyError", "IndexError",
                               "AttributeError", "NameError", "ZeroDivisionError",
                               "RecursionError", "TimeoutError", "NotImplementedError"})


class LearnerError(Exception):
    """The learner's function raised (or could not answer): its type's name and message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name, self.message = type_name, message

    @property
    def common_type(self) -> str:
        """The type's name if it is one of the common built-in exceptions, else "an exception":
        a name the learner chose could spell anything, and in a hidden case every name the
        kernel can choose from is a little of what it saw, carried out."""
        return self.type_name if self.type_name in COMMON_EXCEPTIONS else "an exception"


# Asking across the boundary ------------------------------------------------------------------

def run_async(coroutine: Coroutine) -> Any:
    """Run a coroutine to its end from ordinary code, even where an event loop is running
    already (a notebook's kernel): in a thread of its own, on a model-time loop with a virtual
    clock of its own, so a case's sleeps and deadlines take no wall time and time the same
    on every run."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(model_loop.run, coroutine, clock=ModelClock(virtual=True)).result()


class InProcess:
    """The boundary inside one process: the learner's notebook, nbval, `make course`."""

    def __init__(self) -> None:
        self.answerer = Answerer(namespace={}, finish=run_async)

    def ask(self, question: str) -> str:
        return self.answerer.serve(question)

    def target(self, function) -> dict:
        number = len(self.answerer.handles) + 1
        self.answerer.handles[number] = function
        return {"handle": number}


@dataclass(frozen=True)
class Remote:
    """A function on the other side of the boundary, asked through `link` (grading)."""

    link: Any  # has ask(question: str) -> str
    target: dict  # {"name": ...} or {"handle": ...}
    label: str  # how feedback names it


_here = InProcess()


def remote(function) -> Remote:
    """The learner's function as a Remote: itself when grading, else this process's."""
    if isinstance(function, Remote):
        return function
    name = getattr(function, "__name__", "your function")
    return Remote(_here, _here.target(function), name)


def ask(function, *inputs) -> Any:
    """The learner's function's answer to `inputs`, as plain data of exact types.

    Raises LearnerError when it raised, or when its answer cannot be read (too large, say).
    A callable it returns comes back as a Remote, to be asked in turn.
    """
    answer, _ = ask_timed(function, *inputs)
    return answer


def ask_timed(function, *inputs) -> tuple[Any, float]:
    """ask(), and the model seconds the call took where it ran."""
    answer, seconds, _ = ask_fully(function, *inputs)
    return answer, seconds


def ask_fully(function, *inputs) -> tuple[Any, float, dict[str, list[str]]]:
    """ask(), the model seconds the call took, and what happened to each probe among the
    inputs, by name: "started", then "returned", "raised" or "cancelled"."""
    far = remote(function)
    reply = far.link.ask(json.dumps({"call": far.target, "args": encode(list(inputs))}))
    try:
        return _read(reply, far, inputs)
    except LearnerError:
        raise
    except Exception:  # any reply not of the format: the other side's doing, not the check's
        raise LearnerError("an unreadable answer", "") from None


def _read(reply_text: str, far: Remote, inputs: tuple) -> tuple[Any, float, dict[str, list[str]]]:
    """A reply's answer; any part not of the format raises (ask_fully says "unreadable")."""
    reply = json.loads(reply_text)
    if type(reply) is not dict:
        raise ValueError("not an object")
    if "raised" in reply:
        raise LearnerError(str(reply["raised"])[:60], str(reply.get("message", ""))[:300])
    if "refused" in reply:
        raise LearnerError("an answer too large to check", str(reply["refused"])[:300])
    value = decode(reply["value"])
    names = {str(p.number): p.name for p in _probes_in(inputs)}
    journal = reply.get("journal", {})
    happened = {names[n]: [str(e) for e in events][:10] for n, events in journal.items()
                if n in names and type(events) is list}
    seconds = float(reply.get("model_seconds", 0.0))
    if not 0 <= seconds < float("inf"):
        raise ValueError("model seconds out of range")
    return _remotes(value, far), seconds, happened


def _probes_in(inputs) -> list[ProbeSpec]:
    found = []
    for value in inputs:
        if isinstance(value, ProbeSpec):
            found.append(value)
        elif type(value) in (list, tuple):
            found += _probes_in(value)
        elif type(value) is dict:
            found += _probes_in(list(value.values()))
    return found


def _remotes(value, far: Remote):
    """Handles in an answer, as Remotes on the same link."""
    if isinstance(value, Handle):
        return Remote(far.link, {"handle": value.number}, f"the function {far.label} returned")
    if type(value) is list:
        return [_remotes(item, far) for item in value]
    return value


_probe_numbers = itertools.count(1)


def probe(name: str, seconds: float, fails: bool = False, answer=None) -> ProbeSpec:
    """An async step to hand to the learner's code: sleeps `seconds`, then returns `answer`
    (default "<name> done") or raises. ask_fully() says afterwards what happened to it."""
    return ProbeSpec(next(_probe_numbers), name, seconds, fails, answer)


# Cases and verdicts ------------------------------------------------------------------------

MAX_FEEDBACK = 600  # characters


@dataclass(frozen=True)
class Case:
    inputs: tuple  # a row of the check's table of cases
    hidden: bool  # one of extra_cases: its failure names only the check's rule
    rule: str  # what the whole check tests, said alike of every hidden case


def cases(visible: Iterable, extra_cases: Iterable, *, rule: str) -> list[Case]:
    """The cases to check: the visible ones, or, when the hidden tests pass extra cases, only
    those (the graded cell's first line has just checked the visible ones). `rule` is what
    the check as a whole tests: a failed hidden case says that, and nothing of itself."""
    extra = [Case(tuple(c), True, rule) for c in extra_cases]
    return extra or [Case(tuple(c), False, rule) for c in visible]


def fail(case: Case, rule: str, feedback: str, raised: LearnerError | None = None) -> NoReturn:
    """Fail the check on `case`: full feedback for a visible case. A hidden one says only the
    check's rule, the same whatever the case and whatever went wrong in it."""
    named = raised.common_type if raised else None
    if case.hidden:
        raise CheckFailed(hidden_feedback(case.rule, named), rule=case.rule, raised=named)
    if len(feedback) > MAX_FEEDBACK:  # an answer can be 256 KB; a line of feedback cannot
        feedback = feedback[:MAX_FEEDBACK - 3] + "..."
    raise CheckFailed(feedback, rule=rule, raised=named, case=shown(case.inputs)[:120])


def hidden_feedback(rule: str, raised: str | None) -> str:
    """A hidden case's failure: its rule, and what was raised, never the case itself."""
    what = f"your code raised {raised}" if raised else "your answer was wrong"
    return f"a hidden case failed ({what}); it tests this rule: {rule}"


def answer_to(case: Case, rule: str, function, *inputs) -> Any:
    """ask(), failing the case (with its rule) when the learner's function raises."""
    try:
        return ask(function, *inputs)
    except LearnerError as error:
        fail(case, rule, f"{label(function)}{shown(inputs)} raised {error}.", error)


def label(function) -> str:
    return function.label if isinstance(function, Remote) else getattr(function, "__name__", "it")


def shown(inputs: tuple) -> str:
    """The inputs as a call's arguments, for feedback."""
    return "(" + ", ".join(repr(i) for i in inputs) + ")"


def type_name(value) -> str:
    return value.type_name if isinstance(value, Unsupported) else type(value).__name__


def passed(name: str, count: int) -> None:
    print(f"✓ {name}: all {count} cases right")
