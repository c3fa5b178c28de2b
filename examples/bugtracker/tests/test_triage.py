from bugtracker.models import Bug
from bugtracker.store import BugStore
from bugtracker.triage import Rule, classify, triage, triage_all


def test_classify_takes_the_highest_severity():
    severity, labels = classify("The app crashes and the database is corrupted")
    assert severity == "critical"
    assert labels == ["crash", "data"]


def test_classify_without_a_match_is_medium():
    assert classify("Please add a dark mode") == ("medium", [])


def test_triage_replaces_the_default_severity():
    bug = triage(Bug("Typo on the login page"))
    assert bug.severity == "low"
    assert bug.labels == ["cosmetic"]


def test_triage_never_lowers_a_severity_set_by_a_person():
    bug = triage(Bug("Colour of the header", severity="high", labels=["ui"]))
    assert bug.severity == "high"
    assert bug.labels == ["ui", "cosmetic"]


def test_custom_rules():
    rules = (Rule(r"\bprinter\b", "high", "hardware"),)
    assert classify("Printer is on fire", rules) == ("high", ["hardware"])


def test_triage_all_updates_open_bugs_only():
    store = BugStore()
    store.add(Bug("Segfault on start"))
    store.add(Bug("Please add a dark mode"))
    store.add(Bug("Password shown in logs", status="closed"))
    assert triage_all(store) == 1
    assert store.get(1).severity == "high"
    assert store.get(3).severity == "medium"
    store.close()
