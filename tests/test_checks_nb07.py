"""Notebook 07's checks: right answers pass, each wrong one fails with feedback that names it."""
import pytest

from labkit.checks import CheckFailed, check_first_bad_choice, check_outline, check_responder_cases
from labkit.checks.nb07_debugging_and_observability import first_bad_choice_of
from labkit.observe.otel import span_tree


def test_outline_passes_the_reference_and_fails_an_unsorted_one():
    check_outline(span_tree)
    with pytest.raises(CheckFailed, match="expected"):
        check_outline(lambda spans: [s["name"] for s in spans])
    with pytest.raises(CheckFailed, match="list of str"):
        check_outline(lambda spans: "\n".join(span_tree(spans)))


def test_first_bad_choice_fails_one_that_blames_a_follower():
    check_first_bad_choice(first_bad_choice_of)

    def any_difference(decisions, good):  # blames a decision that only follows a bad one too
        twins = {(d["agent"], d["inputs"]["alert"]): d["choice"] for d in good}
        return next((i for i, d in enumerate(decisions)
                     if twins.get((d["agent"], d["inputs"]["alert"]), d["choice"]) != d["choice"]),
                    None)
    with pytest.raises(CheckFailed, match="expected"):
        check_first_bad_choice(any_difference)
    with pytest.raises(CheckFailed, match="first_bad_choice returned"):
        check_first_bad_choice(lambda decisions, good: 0)


def test_responder_cases_must_pass_the_responder_and_catch_every_bug():
    routed = {"alert": "A1", "host": "h", "text": "t", "team": "payments"}
    full = [[routed | {"severity": "critical"}, "page"], [routed | {"severity": "high"}, "ticket"],
            [routed | {"severity": "high", "team": ""}, "invalid"],
            [{"kind": "attach", "alert": "A4", "incident": "INC-A1"}, "attach"]]
    check_responder_cases(lambda: full)
    with pytest.raises(CheckFailed, match="high gets a log line"):
        check_responder_cases(lambda: [full[0], full[2], full[3]])
    with pytest.raises(CheckFailed, match="correct responder gives 'page'"):
        check_responder_cases(lambda: [[routed | {"severity": "critical"}, "ticket"]])
    with pytest.raises(CheckFailed, match="non-empty list"):
        check_responder_cases(lambda: [])
