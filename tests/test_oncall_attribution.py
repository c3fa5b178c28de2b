"""Notebook 07's system (examples/oncall.py), its planted failures and the attributors, replayed
from bench/attribution.py's own cassette; a replay traced twice in two processes."""
import json
import os
import subprocess
import sys

import pytest

import labkit
from labkit.llm.config import REPO_ROOT
from labkit.llm.scripted import ScriptedModel
from labkit.observe import attribution
from labkit.observe.trace import Trace

sys.path[:0] = [str(REPO_ROOT / "examples")]
import oncall  # noqa: E402
import oncall_attribution as oa  # noqa: E402
from oncall_failures import PLANTED  # noqa: E402


@pytest.fixture
def replayed():
    return labkit.setup("bench_attribution", labkit.__version__)


def test_the_plants_are_as_the_issue_asks():
    assert len(PLANTED) >= 20
    assert sum(p.cascade for p in PLANTED) * 3 >= len(PLANTED)
    assert {p.failure_class for p in PLANTED} == {"fault", "wrong", "handoff", "lost"}
    assert len({p.plant for p in PLANTED}) == len(PLANTED)


@pytest.mark.parametrize("planted", PLANTED, ids=[p.id for p in PLANTED])
def test_each_planted_failure_fails_and_the_rules_find_its_cause(replayed, planted):
    good = oncall.Shift().run()
    result = oa.attribute(planted, good)

    assert result.shift.outcome() != good.outcome()
    assert result.shift.planted_step is not None
    blame = result.blames["rules"]
    assert (blame.agent, blame.step) == result.truth, blame.why
    if planted.cascade:  # the first visible sign is not the cause
        assert (result.blames["trace diff"].agent, result.blames["first error"].agent) != (
            planted.plant.agent, planted.plant.agent)


def test_first_error_blames_the_receiver_of_a_broken_handoff(replayed):
    handoff = next(p for p in PLANTED if p.plant.how == "handoff")
    result = oa.attribute(handoff, oncall.Shift().run())
    assert result.blames["first error"].step == result.truth[1] + 1


def test_a_shift_on_a_scripted_model_handles_each_alert(unit_session):
    def answer(messages):
        return '{"severity": "critical"}' if "severe" in messages[-1]["content"] else '{"team": "payments"}'
    with labkit.override(client=ScriptedModel(answer)):
        shift = oncall.Shift().run()
    assert all(shift.outcome().values())
    assert shift.findings == oncall.review(oncall.ALERTS, shift.incidents)
    assert [t for t in shift.turns if t[0] == "triager"] == [
        ("triager", a) for a in ("A1", "A2", "A3", "A5", "A8")]  # A4, A6, A7 attached
    assert len(shift.log) == 8 + 5 + 5 + 8
    handled = {link for s in attribution.turns(shift.trace) for link in s.links}
    assert {m.id for m in shift.trace.messages() if m.attrs["recipient"] in
            {"triager", "router", "responder"}} == handled  # every message linked by its receiver


def test_a_plant_on_an_alert_outside_the_shift_is_refused():
    with pytest.raises(ValueError, match="A9"):
        oncall.Shift(plant=oncall.Plant("router", "A9", "lost"))


def test_the_attributors_refuse_an_empty_trace_and_a_trace_from_another_version():
    with pytest.raises(ValueError, match="no steps"):
        attribution.first_error(Trace())
    with pytest.raises(ValueError, match="no steps"):
        attribution.by_diff(Trace(), Trace())
    saved = json.dumps({"labkit": "0.1.0", "spans": []})
    with pytest.raises(ValueError, match="labkit 0.1.0.*Re-run"):
        Trace.from_json(saved)
    with pytest.raises(ValueError, match="before 0.2"):
        Trace.from_json("[]")
    with pytest.raises(ValueError, match="no spans"):
        Trace.from_json(json.dumps({"labkit": labkit.__version__, "spans": []}))


REPLAY = """
import sys
sys.path[:0] = ["examples"]
import labkit
labkit.setup("bench_attribution", labkit.__version__)
import oncall
from oncall_failures import PLANTED
print(oncall.Shift(plant=PLANTED[6].plant).run().trace.to_json())
"""


def test_a_recorded_failing_run_replays_to_the_same_trace_in_two_processes():
    env = {**os.environ, "LABKIT_BACKEND": "replay", "LABKIT_REPLAY_SPEED": "0"}
    runs = [subprocess.run([sys.executable, "-c", REPLAY], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=120, check=True).stdout
            for _ in range(2)]
    first, second = (json.loads(run[run.index("{"):]) for run in runs)
    assert first == second
    assert Trace.from_json(json.dumps(first)).spans[0].name == "intake A1"
