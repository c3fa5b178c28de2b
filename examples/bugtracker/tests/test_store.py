import pytest

from bugtracker.models import Bug
from bugtracker.store import BugStore


@pytest.fixture
def store():
    store = BugStore()
    yield store
    store.close()


def test_add_assigns_ids_and_get_returns_the_bug(store):
    first = store.add(Bug("Crash on save", reporter="ana"))
    second = store.add(Bug("Typo in footer", labels=["cosmetic"]))
    assert (first.id, second.id) == (1, 2)
    assert store.get(2) == second
    assert store.get(99) is None
    assert store.count() == 2


def test_update_saves_changes(store):
    bug = store.add(Bug("Export hangs"))
    bug.severity = "high"
    bug.close()
    store.update(bug)
    assert store.get(bug.id).severity == "high"
    assert store.get(bug.id).status == "closed"


def test_update_needs_a_stored_bug(store):
    with pytest.raises(ValueError):
        store.update(Bug("Never added"))


def test_all_filters_by_status(store):
    store.add(Bug("Crash on save"))
    closed = store.add(Bug("Typo in footer", status="closed"))
    assert len(store.all()) == 2
    assert store.all(status="closed") == [closed]


def test_search_titles_is_case_insensitive(store):
    store.add(Bug("Crash on save"))
    store.add(Bug("Login crashes after update"))
    store.add(Bug("Typo in footer"))
    titles = [bug.title for bug in store.search_titles("crash")]
    assert titles == ["Crash on save", "Login crashes after update"]
