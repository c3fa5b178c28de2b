"""examples/triage_costs.py: notebook 04's workload, its batches and its tiers, on a scripted model."""
import json
import sys

import pytest

import labkit
from labkit.llm.chat import ledger
from labkit.llm.config import REPO_ROOT
from labkit.llm.scripted import ScriptedModel

sys.path[:0] = [str(REPO_ROOT / "examples"), str(REPO_ROOT / "examples" / "bugtracker")]
import triage_costs as tc  # noqa: E402

KNOWN, UNKNOWN = "BUG-1", ["BUG-21", "BUG-22", "BUG-23"]  # the rules know BUG-1's severity only


@pytest.mark.parametrize("answer, expected", [
    ({"answers": [{"id": "A", "severity": "low"}, {"id": "B", "severity": "high"}]},
     {"A": "low", "B": "high"}),
    ({"answers": [{"id": "A", "severity": "low"}, {"id": "A", "severity": "low"}]},
     {"A": None, "B": None}),                                   # A twice, B missing
    ({"answers": [{"id": "A", "severity": "urgent"}, {"id": "C", "severity": "low"}, "B: high"]},
     {"A": None, "B": None}),                                   # not allowed, not asked, not a dict
    ({}, {"A": None, "B": None}),
    ("prose", {"A": None, "B": None}),
])
def test_per_item_keeps_only_ids_answered_once_with_an_allowed_value(answer, expected):
    assert tc.per_item(["A", "B"], answer) == expected


def test_a_batch_asks_for_one_item_per_report_by_id():
    schema = tc.batch_schema(["BUG-1", "BUG-2"], {"severity": tc.SEVERITY["properties"]["severity"]})
    answers = schema["properties"]["answers"]
    assert (answers["minItems"], answers["maxItems"]) == (2, 2)
    assert answers["items"]["properties"]["id"] == {"enum": ["BUG-1", "BUG-2"]}


def model_skipping(skipped: str):
    """A model that answers a batch for every report but `skipped`, and "medium" when asked alone."""
    def answer(messages):
        asked = messages[-1]["content"]
        if asked.startswith("Report:"):  # the few-shot prompt: one report
            return json.dumps({"severity": "medium", "component": "auth"})
        ids = [line.split(":")[0] for line in asked.splitlines()[1:]]
        return json.dumps({"answers": [{"id": bug, "severity": "high"} for bug in ids
                                       if bug != skipped]})
    return ScriptedModel(answer)


def test_tiers_ask_the_rules_first_batch_the_rest_and_escalate_what_fails_validation(unit_session):
    scripted = model_skipping("BUG-22")
    ledger.clear()
    with labkit.override(client=scripted):
        answers, tiers = labkit.run(tc.tiered([KNOWN, *UNKNOWN], size=3))
    assert answers[KNOWN]["severity"] == "critical"                # the rules: no model asked
    assert [answers[bug]["severity"] for bug in UNKNOWN] == ["high", "medium", "high"]
    assert tiers == {"rule: severity": 1, "rule: component": 4, "short prompt: severity": 2,
                     "few-shot: severity": 1}
    assert len(scripted.requests) == 2                             # one batch, one escalation
    assert [(r.model, r.priced_as) for r in ledger.records] == [
        ("scripted", "gpt-4o-mini"), ("scripted", "gpt-4o")]


def test_score_counts_a_task_right_only_when_both_answers_are():
    answers = {"BUG-1": {"severity": "critical", "component": "auth"},
               "BUG-2": {"severity": "critical", "component": "ui"}}  # BUG-2 is high, auth
    assert tc.score(answers) == {"severity": 1, "component": 1, "both": 1}


def test_an_unknown_tier_is_named_with_the_known_ones(unit_session):
    with pytest.raises(ValueError, match="no tier 'premium'.*short prompt, few-shot"):
        tc.ask_options("premium")
