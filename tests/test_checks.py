"""Each exercise check passes the reference solution and fails wrong ones with feedback that
names the case and the fix."""
import pytest

import labkit
from labkit.checks import CheckFailed, check_cost_on, check_triage_validator

SCHEMA_ENUMS = {"severity": ["low", "medium", "high", "critical"],
                "component": ["auth", "payments", "search", "ui"]}


def reference_check_triage(answer):
    problems = [f"{field}: missing" for field in ("severity", "component", "summary")
                if field not in answer]
    for field, allowed in SCHEMA_ENUMS.items():
        if field in answer and answer[field] not in allowed:
            problems.append(f"{field}: not allowed")
    summary = answer.get("summary", "")
    if not isinstance(summary, str) or len(summary) > 80:
        problems.append("summary: too long or not text")
    return problems


def test_triage_check_passes_the_reference(capsys):
    check_triage_validator(reference_check_triage)
    assert "all 4 cases right" in capsys.readouterr().out


def test_triage_check_runs_extra_cases():
    hidden = [({"severity": "low", "component": "kitchen", "summary": "s"}, "component")]
    check_triage_validator(reference_check_triage, extra_cases=hidden)
    with pytest.raises(CheckFailed, match="component"):
        check_triage_validator(lambda answer: [], extra_cases=hidden)


@pytest.mark.parametrize("wrong, feedback", [
    (lambda answer: [], "'summary' field is wrong"),                    # accepts everything
    (lambda answer: ["bad"], "should return \\[\\]"),                    # rejects everything
    (lambda answer: None, "return a list"),                             # forgets to return
    (lambda answer: [] if len(answer) == 3 else ["summary"], "severity"),  # checks presence only
])
def test_triage_check_fails_wrong_answers_with_actionable_feedback(wrong, feedback):
    with pytest.raises(CheckFailed, match=feedback):
        check_triage_validator(wrong)


def reference_cost_on(ledger, model):
    return sum(labkit.usage.cost(model, u.prompt_tokens, u.completion_tokens)
               for u in ledger.records)


def test_cost_check_passes_the_reference(capsys):
    check_cost_on(reference_cost_on, extra_cases=[([], "gpt-4o")])
    assert "all 3 cases right" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [
    lambda ledger, model: 0.0,                                                   # no pricing
    lambda ledger, model: sum(labkit.usage.cost(model, u.prompt_tokens, 0)      # forgets output
                              for u in ledger.records),
    lambda ledger, model: sum(u.cost_usd for u in ledger.records),              # prices as recorded
    lambda ledger, model: "0.15",                                               # text, not a number
])
def test_cost_check_fails_wrong_answers_with_actionable_feedback(wrong):
    with pytest.raises(CheckFailed, match="labkit.usage.cost"):
        check_cost_on(wrong)
