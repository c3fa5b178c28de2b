"""Checks for notebook 03, error handling and recovery."""
from __future__ import annotations

from ._core import (LearnerError, answer_to, ask_fully, cases, fail, passed, probe, shown,
                    type_name)

# Exercise 03.1: which errors are worth a retry ----------------------------------------------

QUOTA = {"error": {"code": "insufficient_quota", "message": "You exceeded your current quota."}}
LIMITED = {"error": {"code": "rate_limit_exceeded", "message": "Rate limit reached."}}
# (HTTP status, 0 when no answer came; the error body; retriable?)
RETRY_CASES = [
    (429, LIMITED, True), (429, QUOTA, False), (500, {}, True), (503, {}, True), (502, {}, True),
    (0, {}, True), (408, {}, True), (409, {}, True), (400, {"error": {"code": "context_length_exceeded"}}, False),
    (401, {}, False), (404, {}, False), (422, {}, False),
]
RETRY_RULE = ("retry when no answer came (status 0), on 408, 409, 429 and every 5xx, never on "
              "another 4xx, and never on a 429 whose error code is insufficient_quota")


def check_is_retriable(is_retriable, extra_cases: list = ()) -> None:
    """is_retriable(status, body) -> bool."""
    all_cases = cases(RETRY_CASES, extra_cases, rule=RETRY_RULE)
    for case in all_cases:
        status, body, expected = case.inputs
        got = answer_to(case, RETRY_RULE, is_retriable, status, body)
        if type(got) is not bool:
            fail(case, "the answer is True or False",
                 f"is_retriable{shown((status, body))} returned {got!r} (a {type_name(got)}): "
                 "return True or False.")
        if got != expected:
            why = ("no wait refills an exhausted quota" if body == QUOTA else
                   "the server may answer next time" if expected else
                   "the request itself is wrong: the same request fails again")
            fail(case, RETRY_RULE, f"is_retriable{shown((status, body))} returned {got}; "
                                   f"expected {expected}: {why}.")
    passed("is_retriable", len(all_cases))


# Exercise 03.2: a fallback chain that stops at the first valid answer ----------------------

# tiers as (name, what it does): "fails", or the answer it returns; the expected tier
FALLBACK_CASES = [
    ([("model", "fails"), ("stricter prompt", {"severity": "urgent"}), ("rule", {"severity": "high"}),
      ("person", {"severity": "low"})], "rule"),
    ([("model", {"severity": "low"}), ("rule", {"severity": "high"})], "model"),
    ([("model", "fails"), ("rule", "fails")], None),
    ([("model", {"severity": "medium", "extra": 1}), ("rule", {"severity": "critical"})], "rule"),
]
FALLBACK_RULE = ("return {'tier': name, 'answer': answer} for the first tier whose answer is "
                 "valid (a dict whose only key is 'severity', one of low, medium, high, "
                 "critical); skip tiers that raise or answer badly; never start a tier after "
                 "the one used; {'tier': None, 'answer': None} when none is valid")


def check_first_valid(first_valid, extra_cases: list = ()) -> None:
    """first_valid(tiers) -> {"tier": ..., "answer": ...}; tiers are the check's async steps."""
    all_cases = cases(FALLBACK_CASES, extra_cases, rule=FALLBACK_RULE)
    for case in all_cases:
        spec, expected_tier = case.inputs
        tiers = [(name, probe(name, 0.5, fails=does == "fails",
                              answer=None if does == "fails" else does)) for name, does in spec]
        said = {name: does for name, does in spec}
        try:
            got, _, happened = ask_fully(first_valid, tiers)
        except LearnerError as error:
            fail(case, FALLBACK_RULE, f"first_valid(tiers {said}) raised {error}.", error)
        answer = dict(spec).get(expected_tier) if expected_tier else None
        expected = {"tier": expected_tier, "answer": answer}
        if got != expected:
            fail(case, FALLBACK_RULE, f"With tiers {said}, first_valid returned {got!r}; "
                                      f"expected {expected!r}.")
        names = [name for name, _ in spec]
        last = names.index(expected_tier) if expected_tier else len(names) - 1
        started_late = [name for name in names[last + 1:] if "started" in happened.get(name, [])]
        if started_late:
            fail(case, FALLBACK_RULE, f"With tiers {said}, first_valid also started "
                                      f"{started_late} after {expected_tier!r} had answered: "
                                      "stop at the first valid answer.")
    passed("first_valid", len(all_cases))


# Exercise 03.3: resume from a checkpoint --------------------------------------------------

# (the run's steps in order, the outputs saved before the crash)
RESUME_CASES = [
    (["triage", "route", "write", "file"], {"triage": "high", "route": "auth"}),
    (["triage", "route", "write"], {}),
    (["triage", "route", "write"], {"triage": "low", "route": "ui", "write": "Typo"}),
    (["a", "b", "c"], {"b": "saved b"}),
]
RESUME_RULE = ("a step saved in the checkpoint is not started again (its saved output is "
               "used); every other step runs once; the answer maps each step to its "
               "output, in the steps' order")


def check_resume(resume, extra_cases: list = ()) -> None:
    """resume(steps, saved) -> {step: output}; steps are (name, async step) in order."""
    all_cases = cases(RESUME_CASES, extra_cases, rule=RESUME_RULE)
    for case in all_cases:
        names, saved = case.inputs
        steps = [(name, probe(name, 1.0)) for name in names]
        try:
            got, _, happened = ask_fully(resume, steps, dict(saved))
        except LearnerError as error:
            fail(case, RESUME_RULE, f"resume(steps {names}, saved {saved}) raised {error}.", error)
        redone = [name for name in saved if "started" in happened.get(name, [])]
        if redone:
            fail(case, RESUME_RULE, f"With steps {names} and saved {saved}, resume started "
                                    f"{redone} again: a saved step must not run twice (its "
                                    "side effect would happen twice).")
        expected = {name: saved.get(name, f"{name} done") for name in names}
        if got != expected or (type(got) is dict and list(got) != names):
            fail(case, RESUME_RULE, f"With steps {names} and saved {saved}, resume returned "
                                    f"{got!r}; expected {expected!r} (in the steps' order).")
        twice = [name for name, events in happened.items() if events.count("started") > 1]
        if twice:
            fail(case, RESUME_RULE, f"resume started {twice} more than once: run each step once.")
    passed("resume", len(all_cases))
