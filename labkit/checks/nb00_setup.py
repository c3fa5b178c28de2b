"""Checks for notebook 00, setup: a triage validator and pricing a ledger on another model."""
from __future__ import annotations

import math

from ..llm import usage
from ..llm.local_model import MODEL_NAME as LOCAL_MODEL
from ._core import CheckFailed, passed


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
    passed("check_triage", len(cases))


# Exercise 00.2: what would these calls cost on another model? ---------------------------

def _ledger(calls: list[tuple[int, int]]) -> usage.Ledger:
    ledger = usage.Ledger()
    for prompt, completion in calls:
        ledger.add(usage.Usage("check", "agent", LOCAL_MODEL, prompt, completion, 0.1, 0.0))
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
                "labkit.llm.usage.cost(model, prompt_tokens, completion_tokens) and add them up."
            )
    passed("cost_on", len(cases))
