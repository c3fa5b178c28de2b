"""labkit/observe/decisions.py: one record per decision, joined to its step, kept as JSON lines."""
import json

import pytest

from labkit.observe import trace
from labkit.observe.decisions import FIELDS, DecisionLog
from labkit.observe.trace import Trace


def test_a_decision_names_its_step_and_reads_back():
    log = DecisionLog()
    with Trace() as run, trace.span("route A3", agent="router") as step:
        log.record("router", inputs={"alert": "A3"}, options=["search", "platform"],
                   choice="platform", reason="db-1 is a database")
    assert log.decisions[0].span == step.id
    frame = log.frame()
    assert list(frame.columns) == ["agent", "options", "choice", "reason", "span", "at", "inputs.alert"]
    assert frame.query("choice == 'platform'")["inputs.alert"].tolist() == ["A3"]
    assert DecisionLog.read_jsonl(log.to_jsonl()).decisions == log.decisions
    assert sorted(json.loads(log.to_jsonl())) == sorted(FIELDS)
    assert len(run) == 1


@pytest.mark.parametrize("bad, message", [
    ({"choice": "nowhere"}, "not one of the options"),
    ({"options": []}, "at least one option"),
    ({"reason": " "}, "say why"),
    ({"inputs": "A3"}, "as a dict"),
])
def test_a_decision_that_breaks_the_schema_is_refused(bad, message):
    record = {"inputs": {"alert": "A3"}, "options": ["search"], "choice": "search", "reason": "r"}
    with pytest.raises(ValueError, match=message):
        DecisionLog().record("router", **(record | bad))


def test_a_log_line_that_breaks_the_schema_is_named_by_its_line():
    good = DecisionLog()
    good.record("a", inputs={}, options=["x"], choice="x", reason="r")
    line = json.loads(good.to_jsonl())
    del line["reason"]
    with pytest.raises(ValueError, match="line 2 .*no reason"):
        DecisionLog.read_jsonl(good.to_jsonl() + json.dumps(line) + "\n")
    with pytest.raises(ValueError, match="line 1"):
        DecisionLog.read_jsonl("not json\n")
