import pytest

from bugtracker.models import Bug, severity_rank


def test_defaults():
    bug = Bug("Login button does nothing")
    assert bug.severity == "medium"
    assert bug.status == "open"
    assert bug.labels == []
    assert bug.is_open


def test_title_is_stripped_and_required():
    assert Bug("  Crash on save \n").title == "Crash on save"
    with pytest.raises(ValueError):
        Bug("   ")


def test_unknown_values_are_rejected():
    with pytest.raises(ValueError):
        Bug("Crash", severity="urgent")
    with pytest.raises(ValueError):
        Bug("Crash", status="done")


def test_close():
    bug = Bug("Crash on save")
    bug.close()
    assert not bug.is_open


def test_row_round_trip():
    bug = Bug("Crash on save", body="Traceback ...", labels=["crash"], id=7)
    assert Bug.from_row(bug.to_row()) == bug


def test_severity_rank_orders_severities():
    assert severity_rank("low") < severity_rank("medium") < severity_rank("critical")
