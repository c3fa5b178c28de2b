"""Checks for notebook 00, setup: a triage validator and pricing a ledger on another model."""
from __future__ import annotations

import math

from ..llm import usage
from ..llm.local_model import MODEL_NAME as LOCAL_MODEL
from ._core import answer_to, cases, fail, passed, type_name

# Exercise 00.1: validate a triage answer ----------------------------------------------

VALID_TRIAGE = {"severity": "high", "component": "auth", "summary": "Logged out after reset"}

# (answer, the field whose problem must be named, or None when the answer is valid)
TRIAGE_CASES = [
    (VALID_TRIAGE, None),
    ({"severity": "high", "component": "auth"}, "summary"),
    ({**VALID_TRIAGE, "severity": "urgent"}, "severity"),
    ({**VALID_TRIAGE, "summary": "x" * 81}, "summary"),
]
TRIAGE_RULE = "a valid answer has no problems, and each problem of an invalid one names its field"


def check_triage_validator(check_triage, extra_cases: list = ()) -> None:
    """check_triage(answer) must return [] for a valid answer, else problems naming the field."""
    all_cases = cases(TRIAGE_CASES, extra_cases, rule=TRIAGE_RULE)
    for case in all_cases:
        answer, field = case.inputs
        rule = ("a valid answer has no problems: []" if field is None else
                "each problem of an invalid answer names the field it is about")
        problems = answer_to(case, rule, check_triage, dict(answer))
        if type(problems) is not list or any(type(p) is not str for p in problems):
            fail(case, "the answer is a list of problems, each a str",
                 f"check_triage({answer!r}) returned {problems!r} (a {type_name(problems)}): "
                 "return a list of problems (strings), [] when the answer is valid.")
        if field is None and problems:
            fail(case, rule, f"check_triage({answer!r}) returned {problems!r}, but this answer "
                             "is valid: it should return [].")
        if field is not None and not any(field in p for p in problems):
            fail(case, rule, f"check_triage({answer!r}) returned {problems!r}: the {field!r} "
                             "field is wrong here, and a problem should name it.")
    passed("check_triage", len(all_cases))


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
COST_RULE = "every call of the ledger is priced at the model's PRICES, input and output, and summed"


def check_cost_on(cost_on, extra_cases: list = ()) -> None:
    """cost_on(ledger, model) must price every call of the ledger at that model's PRICES."""
    all_cases = cases(COST_CASES, extra_cases, rule=COST_RULE)
    for case in all_cases:
        calls, model = case.inputs
        expected = sum(usage.cost(model, prompt, completion) for prompt, completion in calls)
        got = answer_to(case, COST_RULE, cost_on, _ledger(calls), model)
        if type(got) not in (int, float) or not math.isclose(got, expected, abs_tol=1e-12):
            fail(case, COST_RULE,
                 f"cost_on(<ledger with calls {calls} as (prompt, completion) tokens>, {model!r}) "
                 f"returned {got!r}; expected {expected!r} (a float). Price each call with "
                 "labkit.llm.usage.cost(model, prompt_tokens, completion_tokens) and add them up.")
    passed("cost_on", len(all_cases))
