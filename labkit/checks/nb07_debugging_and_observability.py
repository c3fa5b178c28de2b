"""Checks for notebook 07, debugging and observability."""
from __future__ import annotations

from ..observe.otel import span_tree
from ._core import answer_to, cases, fail, passed, shown, type_name

# Exercise 07.1: the span tree of a run -------------------------------------------------------


def _span(name: str, span_id: str, parent: str, start: int, seq: int, error: str = "") -> dict:
    return {"name": name, "span_id": span_id, "parent_id": parent, "start_ns": start,
            "attributes": {"labkit.seq": seq}, "error": error}


TREE_CASES = [
    [_span("invoke_agent intake", "a", "", 0, 0), _span("send triager", "b", "a", 0, 1)],
    [_span("send router", "d", "c", 5, 3), _span("chat m", "e", "f", 2, 2),
     _span("rate severity", "f", "c", 1, 1), _span("invoke_agent triager", "c", "", 1, 0)],
    [_span("invoke_agent b", "y", "", 10, 1), _span("invoke_agent a", "x", "", 10, 0),
     _span("send c", "z", "y", 10, 2, error="lost")],
    [_span("invoke_agent reviewer", "r", "", 9, 5, error="ValueError: 2 findings")],
]
TREE_RULE = ("one line per span, depth first: a span's children come right under it, each "
             "indented two more spaces; spans with the same parent in order of start_ns, ties "
             "by attributes['labkit.seq']; a span whose error is not empty ends with ' !'; "
             "return a list of str")


def check_outline(outline, extra_cases: list = ()) -> None:
    """outline(spans) -> the span tree as indented lines, like labkit's span_tree."""
    all_cases = cases([(spans,) for spans in TREE_CASES], extra_cases, rule=TREE_RULE)
    for case in all_cases:
        (spans,) = case.inputs
        got = answer_to(case, TREE_RULE, outline, [dict(s) for s in spans])
        expected = span_tree(spans)
        if type(got) is not list or any(type(line) is not str for line in got):
            fail(case, TREE_RULE, f"outline(...) returned {got!r} (a {type_name(got)}): return "
                                  "a list of str, one line per span.")
        if got != expected:
            fail(case, TREE_RULE, f"For the spans {[s['name'] for s in spans]}, outline gave "
                                  f"{got!r}; expected {expected!r}.")
    passed("outline", len(all_cases))


# Exercise 07.2: the bad choice in a decision log -------------------------------------------

def _decision(agent: str, alert: str, choice: str, **inputs) -> dict:
    return {"agent": agent, "inputs": {"alert": alert, **inputs}, "choice": choice}


_GOOD = [_decision("triager", "A1", "critical", host="checkout-1"),
         _decision("router", "A1", "payments", host="checkout-1", severity="critical"),
         _decision("responder", "A1", "page", severity="critical", team="payments")]
CHOICE_CASES = [
    (_GOOD, _GOOD),
    ([_decision("triager", "A1", "low", host="checkout-1"),
      _decision("router", "A1", "payments", host="checkout-1", severity="low"),
      _decision("responder", "A1", "log", severity="low", team="payments")], _GOOD),
    ([_GOOD[0], _decision("router", "A1", "search", host="checkout-1", severity="critical"),
      _decision("responder", "A1", "page", severity="critical", team="search")], _GOOD),
    ([_GOOD[0], _GOOD[1], _decision("responder", "A1", "ticket", severity="critical",
                                    team="payments")], _GOOD),
    ([_GOOD[0], _decision("router", "A1", "search", host="checkout-1", severity="low")], _GOOD),
    ([_decision("triager", "A2", "high", host="search-2"), *_GOOD], _GOOD),
]
CHOICE_RULE = ("the position of the first decision whose choice differs from the good run's "
               "decision by the same agent on the same alert while its inputs are equal; a "
               "decision the good run has no twin for, or whose inputs differ, is not a bad "
               "choice (it follows one); None when there is no bad choice")


def first_bad_choice_of(decisions: list[dict], good: list[dict]) -> int | None:
    twins = {(d["agent"], d["inputs"]["alert"]): d for d in good}
    for position, decision in enumerate(decisions):
        twin = twins.get((decision["agent"], decision["inputs"]["alert"]))
        if twin and twin["inputs"] == decision["inputs"] and twin["choice"] != decision["choice"]:
            return position
    return None


def check_first_bad_choice(first_bad_choice, extra_cases: list = ()) -> None:
    """first_bad_choice(decisions, good) -> the position of the bad choice, or None."""
    all_cases = cases(CHOICE_CASES, extra_cases, rule=CHOICE_RULE)
    for case in all_cases:
        decisions, good = case.inputs
        got = answer_to(case, CHOICE_RULE, first_bad_choice, [dict(d) for d in decisions],
                        [dict(d) for d in good])
        expected = first_bad_choice_of(decisions, good)
        if got is not None and type(got) is not int:
            fail(case, CHOICE_RULE, f"first_bad_choice(...) returned {got!r} (a "
                                    f"{type_name(got)}): return a position (an int) or None.")
        if got != expected:
            choices = [f"{d['agent']} {d['inputs']['alert']}: {d['choice']}" for d in decisions]
            fail(case, CHOICE_RULE, f"For the decisions {choices}, first_bad_choice returned "
                                    f"{got!r}; expected {expected!r}.")
    passed("first_bad_choice", len(all_cases))


# Exercise 07.3: an isolation test that catches a planted bug -------------------------------

ACTION = {"critical": "page", "high": "ticket", "low": "log"}
_FIELDS = ("alert", "host", "text", "severity", "team")


def respond(message: dict) -> str:
    """The responder's rule, alone: what it does with one routed or attach message."""
    if message.get("kind") == "attach":
        return "attach" if message.get("alert") and message.get("incident") else "invalid"
    if any(not message.get(name) for name in _FIELDS) or message["severity"] not in ACTION:
        return "invalid"
    return ACTION[message["severity"]]


MUTANTS = {  # each a responder with one bug planted, as an agent's new version might have
    "critical gets a ticket": lambda m: "ticket" if respond(m) == "page" else respond(m),
    "high gets a log line": lambda m: "log" if respond(m) == "ticket" else respond(m),
    "no team still acted on": lambda m: (ACTION.get(m.get("severity"), "invalid")
                                         if m.get("kind") != "attach" and not m.get("team")
                                         else respond(m)),
    "attach opens a new incident": lambda m: ("page" if m.get("kind") == "attach"
                                              else respond(m)),
}
MUTANT_RULE = ("return a list of [message, expected] pairs: message a dict (a routed message "
               "has alert, host, text, severity and team; an attach message has kind 'attach', "
               "alert and incident), expected what the responder must do ('page', 'ticket', "
               "'log', 'attach', or 'invalid' for a message it must refuse). Every pair must "
               "hold for the correct responder, and each planted bug must break at least one")


def check_responder_cases(responder_cases, extra_cases: list = ()) -> None:
    """responder_cases() -> test cases for the responder alone, that catch every planted bug."""
    all_cases = cases([()], extra_cases, rule=MUTANT_RULE)
    for case in all_cases:
        got = answer_to(case, MUTANT_RULE, responder_cases, *case.inputs)
        if type(got) is not list or not got or any(
                type(pair) not in (list, tuple) or len(pair) != 2 or type(pair[0]) is not dict
                or type(pair[1]) is not str for pair in got):
            fail(case, MUTANT_RULE, f"responder_cases{shown(case.inputs)} returned {got!r}: "
                                    "return a non-empty list of [message dict, expected str].")
        for message, expected in got:
            if respond(message) != expected:
                fail(case, MUTANT_RULE, f"The case {message!r} expects {expected!r}, but the "
                                        f"correct responder gives {respond(message)!r}: a test "
                                        "must pass on code without the bug.")
        for bug, mutant in MUTANTS.items():
            if all(mutant(message) == expected for message, expected in got):
                fail(case, MUTANT_RULE, f"No case catches the bug {bug!r}: every case still "
                                        "passes on a responder with it. Add a case it gets "
                                        "wrong.")
    passed("responder_cases", len(got))  # the learner's cases, each bug caught
