"""A small query language for finding bugs, e.g. ``status:open label:crash login``.

A query is a list of words separated by spaces. A word of the form ``key:value``
with a known key is a filter; every other word is searched for in the titles.
"""
from __future__ import annotations

from .models import Bug, severity_rank
from .store import BugStore

FILTER_KEYS = ("status", "severity", "reporter", "label")


def parse_query(text: str, filters: dict = {}) -> tuple[dict, list[str]]:
    """Split a query into its filters (key -> lower-case value) and its free words.

    Words with an unknown key, such as ``foo:bar``, are kept as free words.
    """
    words = []
    for token in text.split():
        key, sep, value = token.partition(":")
        if sep and key in FILTER_KEYS and value:
            filters[key] = value.lower()
        else:
            words.append(token)
    return filters, words


def matches(bug: Bug, filters: dict) -> bool:
    """True if the bug satisfies every filter."""
    for key, value in filters.items():
        if key == "label":
            if value not in (label.lower() for label in bug.labels):
                return False
        elif getattr(bug, key).lower() != value:
            return False
    return True


def search(store: BugStore, text: str) -> list[Bug]:
    """The bugs that match a query, most severe first, oldest first among equals.

    The free words are looked up, as one phrase, in the titles by the store;
    the filters are then applied to what it returns.
    """
    filters, words = parse_query(text)
    candidates = store.search_titles(" ".join(words)) if words else store.all()
    found = [bug for bug in candidates if matches(bug, filters)]
    return sorted(found, key=lambda bug: -severity_rank(bug.severity))
