"""Failure attribution: given a failed run, which agent's turn caused it?

A run's *turns* are its top-level step spans, numbered in the order they started: step 0, 1...
Four ways to blame one, each a function that returns a `Blame`:

    first_error  the first turn that raised: what a developer sees first (the baseline)
    by_diff      the first turn whose shape differs from a good run of the same work
    by_rules     from that turn, follow messages and decisions upstream to the first turn that
                 chose differently on the same inputs, sent a broken or undelivered message,
                 or raised on a message that was fine
    by_judge     ask a model, showing it the failed run's turns

The shape of a turn is what a trace holds without content: its agent and name, the error it
raised, the model calls and messages it made (kind, recipient, fields). `score` counts how often
each method named the right agent, and the right step.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .decisions import DecisionLog
from .trace import Span, Trace


@dataclass(frozen=True)
class Blame:
    agent: str
    step: int
    method: str
    why: str


def turns(run: Trace) -> list[Span]:
    """The run's top-level steps in start order; an empty trace is refused."""
    steps = [s for s in run.spans if s.kind == "step" and s.parent is None]
    if not steps:
        raise ValueError("This trace has no steps to blame: trace the run with `with Trace() as "
                         "run:` and give that trace, not a new one.")
    return steps


def _below(run: Trace, turn: Span) -> list[Span]:
    """Every span under `turn`."""
    inside, found = {turn.id}, []
    for span in run.spans:
        if span.parent in inside:
            inside.add(span.id)
            found.append(span)
    return found


def shape(run: Trace, turn: Span) -> tuple:
    """What a turn did, without content or numbers: comparable across two runs."""
    below = _below(run, turn)
    return (turn.agent, turn.name, turn.error.split(":")[0],
            sum(s.kind == "llm" for s in below),
            tuple((s.name, s.attrs.get("recipient"), s.attrs.get("fields"))
                  for s in below if s.kind == "message"),
            tuple(s.name for s in below if s.kind not in ("step", "llm", "message")))


def first_error(failed: Trace) -> Blame:
    steps = turns(failed)
    for number, turn in enumerate(steps):
        if turn.error:
            return Blame(turn.agent, number, "first error", f"it raised {turn.error[:80]}")
    return Blame(steps[-1].agent, len(steps) - 1, "first error", "nothing raised: the last turn")


def first_divergence(failed: Trace, good: Trace) -> int | None:
    """The first step whose shape differs between the two runs, or None if none does."""
    ours, theirs = turns(failed), turns(good)
    for number, turn in enumerate(ours):
        if number >= len(theirs) or shape(failed, turn) != shape(good, theirs[number]):
            return number
    return None if len(ours) == len(theirs) else len(ours) - 1


def by_diff(failed: Trace, good: Trace) -> Blame:
    number = first_divergence(failed, good)
    steps = turns(failed)
    if number is None:
        return Blame(steps[-1].agent, len(steps) - 1, "trace diff", "no difference: the last turn")
    return Blame(steps[number].agent, number, "trace diff", "the first turn that differs")


def by_rules(failed: Trace, good: Trace, failed_log: DecisionLog, good_log: DecisionLog) -> Blame:
    steps, number = turns(failed), first_divergence(failed, good)
    if number is None:
        return Blame(steps[-1].agent, len(steps) - 1, "rules", "no difference: the last turn")
    index = {turn.id: n for n, turn in enumerate(steps)}
    parents = {s.id: s for s in failed.spans}
    sender_turn = {m.id: _turn_of(m, parents, index) for m in failed.messages()}
    handled = {link for turn in steps for link in turn.links}
    agents = {turn.agent for turn in steps}
    for message in failed.messages():  # rule 1: a message to an agent that never handled it
        if message.attrs["recipient"] in agents and message.id not in handled:
            sender = sender_turn[message.id]
            if sender is not None and sender <= number + 1:
                return Blame(steps[sender].agent, sender, "rules",
                             f"its {message.name!r} to {message.attrs['recipient']} never arrived")
    turn = steps[number]
    good_turns = turns(good)
    if turn.error and turn.links:  # rule 2: refused a message: was the message broken?
        message = next(m for m in failed.messages() if m.id == turn.links[0])
        sender = sender_turn[message.id]
        twin = _twin_message(good, good_turns, sender, message)
        if sender is not None and twin is not None and twin.attrs.get("fields") != message.attrs.get("fields"):
            return Blame(steps[sender].agent, sender, "rules",
                         f"its {message.name!r} had fields {message.attrs.get('fields')}, not "
                         f"{twin.attrs.get('fields')}")
        return Blame(turn.agent, number, "rules", f"it raised on a sound message: {turn.error[:60]}")
    if turn.error:
        return Blame(turn.agent, number, "rules", f"it raised: {turn.error[:60]}")
    # rule 3: it did something else with no error: walk back to the first changed decision.
    ours, theirs = _decisions(failed_log, index), _decisions(good_log, {t.id: n for n, t in
                                                                         enumerate(good_turns)})
    blamed = number
    while True:
        if ours.get(blamed) and ours.get(blamed) != theirs.get(blamed):
            mine, other = ours[blamed], theirs.get(blamed)
            if other is None or mine.inputs == other.inputs:  # chose differently on the same inputs
                return Blame(steps[blamed].agent, blamed, "rules",
                             f"chose {mine.choice!r} where the good run chose "
                             f"{other.choice if other else 'nothing'!r}")
        upstream = [sender_turn.get(link) for link in steps[blamed].links]
        if not upstream or upstream[0] is None:
            return Blame(steps[blamed].agent, blamed, "rules", "the first changed decision")
        blamed = upstream[0]


def _turn_of(span: Span, parents: dict[int, Span], index: dict[int, int]) -> int | None:
    """The step number of the turn `span` happened in."""
    while span is not None and span.id not in index:
        span = parents.get(span.parent)
    return index.get(span.id) if span is not None else None


def _twin_message(good: Trace, good_turns: list[Span], sender: int | None, message: Span):
    """The same message in the good run: sent in the same step, of the same kind."""
    if sender is None or sender >= len(good_turns):
        return None
    return next((m for m in _below(good, good_turns[sender])
                 if m.kind == "message" and m.name == message.name), None)


def _decisions(log: DecisionLog, index: dict[int, int]) -> dict:
    return {index[d.span]: d for d in log.decisions if d.span in index}


def by_judge(failed: Trace, findings: list[str], *, judge) -> Blame:
    """Ask `judge` (an Agent) which step caused the failure, showing it every turn."""
    steps = turns(failed)
    lines = [f"{n}. {t.agent}: {t.name}" + (f" (raised {t.error.split(':')[0]})" if t.error else "")
             for n, t in enumerate(steps)]
    schema = {"title": "blame", "type": "object", "required": ["step"],
              "properties": {"step": {"type": "integer", "minimum": 0,
                                      "maximum": len(steps) - 1}}}
    prompt = ("A run of agents failed. Its steps:\n" + "\n".join(lines) + "\nWhat went wrong: "
              + ("; ".join(findings) or "see the steps that raised") + "\nWhich step caused it?")
    step = judge.ask(prompt, schema=schema, max_tokens=30).data["step"]
    step = min(max(int(step), 0), len(steps) - 1)
    return Blame(steps[step].agent, step, "judge", "the model's answer")


def score(results: list[tuple[str, Blame, str, int]]) -> dict:
    """(failure class, blame, true agent, true step) per attribution -> accuracies per method,
    overall and per class: {method: {"all": (agent, step), class: (agent, step)}}."""
    counts = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for failure_class, blame, agent, step in results:
        for group in ("all", failure_class):
            tally = counts[blame.method][group]
            tally[0] += 1
            tally[1] += blame.agent == agent
            tally[2] += blame.agent == agent and blame.step == step
    return {method: {group: (hit_agent / n, hit_step / n) for group, (n, hit_agent, hit_step)
                     in groups.items()} for method, groups in counts.items()}
