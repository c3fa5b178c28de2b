"""Exercise checks: run a learner's code on cases and say what to fix when it is wrong.

Each check calls the learner's function (behaviour, never source text), prints a line
when all is right, and raises CheckFailed with feedback a learner can act on otherwise.
The graded cells of a notebook call these. Hidden tests, in the instructor's notebook only,
call them again with `extra_cases` that no student has seen.
"""
from __future__ import annotations

import math

from . import usage


class CheckFailed(AssertionError):
    """The learner's code gave a wrong answer; the message says which case and why."""


def _passed(name: str, cases: int) -> None:
    print(f"✓ {name}: all {cases} cases right")


# Exercise 00.1: validate a triage answer ----------------------------------------------

TRIAGE_FIELDS = ("severity", "component", "summary")
VALID_TRIAGE = {"severity": "high", "component": "auth", "summary": "Logged out after reset"}


# (answer, the field whose problem must be named, or None when the answer is valid)
TRIAGE_CASES = [
    (VALID_TRIAGE, None),
    ({"severity": "high", "component": "auth"}, "summary"),
    ({**VALID_TRIAGE, "severity": "urgent"}, "severity"),
    ({**VALID_TRIAGE, "summary": "x" * 81}, "summary"),
]


def check_triage_validator(check_triage, extra_cases: list = ()) -> None:
    """check_triage(answer) must return [] for a valid answer, else problems naming the field."""
    cases = TRIAGE_CASES + list(extra_cases)
    for answer, field in cases:
        problems = check_triage(dict(answer))
        if not isinstance(problems, list):
            raise CheckFailed(f"check_triage({answer!r}) returned {problems!r}: return a list "
                              "of problems (strings), [] when the answer is valid.")
        if field is None and problems:
            raise CheckFailed(f"check_triage({answer!r}) returned {problems!r}, but this answer "
                              "is valid: it should return [].")
        if field is not None and not any(field in str(p) for p in problems):
            raise CheckFailed(f"check_triage({answer!r}) returned {problems!r}: the {field!r} "
                              f"field is wrong here, and a problem should name it.")
    _passed("check_triage", len(cases))


# Exercise 00.2: what would these calls cost on another model? ---------------------------

def _ledger(calls: list[tuple[int, int]]) -> usage.Ledger:
    ledger = usage.Ledger()
    for prompt, completion in calls:
        ledger.add(usage.Usage("check", "agent", "SmolLM2-135M-Instruct", prompt, completion, 0.1, 0.0))
    return ledger


# (calls as (prompt_tokens, completion_tokens), model)
COST_CASES = [
    ([(1_000_000, 0)], "gpt-4o-mini"),
    ([(1000, 2000), (300, 50)], "gpt-4o"),
]


def check_cost_on(cost_on, extra_cases: list = ()) -> None:
    """cost_on(ledger, model) must price every call of the ledger at that model's PRICES."""
    cases = [(_ledger(calls), model) for calls, model in COST_CASES + list(extra_cases)]
    for ledger, model in cases:
        expected = sum(usage.cost(model, u.prompt_tokens, u.completion_tokens)
                       for u in ledger.records)
        got = cost_on(ledger, model)
        if not isinstance(got, (int, float)) or not math.isclose(got, expected, abs_tol=1e-12):
            calls = [(u.prompt_tokens, u.completion_tokens) for u in ledger.records]
            raise CheckFailed(
                f"cost_on(<ledger with calls {calls} as (prompt, completion) tokens>, {model!r}) "
                f"returned {got!r}; expected {expected!r}. Price each call with "
                "labkit.usage.cost(model, prompt_tokens, completion_tokens) and add them up."
            )
    _passed("cost_on", len(cases))
