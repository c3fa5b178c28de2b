"""Reports on a set of bugs: summary counts, a text overview, and likely duplicates."""
from __future__ import annotations

import re
from collections import Counter

from .models import SEVERITIES, Bug, severity_rank

STOP_WORDS = frozenset({"a", "an", "the", "is", "in", "on", "of", "to", "when", "after"})


def normalise(title: str) -> str:
    """A title reduced to its lower-case words, without punctuation or stop words."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return " ".join(word for word in words if word not in STOP_WORDS)


def similarity(first: str, second: str) -> float:
    """The Jaccard similarity of the word sets of two normalised titles (0.0 to 1.0)."""
    left, right = set(first.split()), set(second.split())
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def find_duplicates(bugs: list[Bug], threshold: float = 0.6) -> list[tuple[int, int]]:
    """Pairs of bug ids whose titles are similar enough to be the same report."""
    pairs = []
    for i, first in enumerate(bugs):
        for second in bugs[i + 1:]:
            score = similarity(normalise(first.title), normalise(second.title))
            if score >= threshold:
                pairs.append((first.id, second.id))
    return pairs


def summary(bugs: list[Bug]) -> dict:
    """Counts of the open bugs by severity and by label, and of the closed ones."""
    open_bugs = [bug for bug in bugs if bug.is_open]
    by_severity = Counter(bug.severity for bug in open_bugs)
    by_label = Counter(label for bug in open_bugs for label in bug.labels)
    return {
        "open": len(open_bugs),
        "closed": len(bugs) - len(open_bugs),
        "by_severity": {severity: by_severity[severity] for severity in SEVERITIES},
        "by_label": dict(sorted(by_label.items())),
    }


def render_text(bugs: list[Bug]) -> str:
    """A plain-text overview: the summary, then the open bugs, most severe first."""
    counts = summary(bugs)
    lines = [f"{counts['open']} open, {counts['closed']} closed"]
    for severity in reversed(SEVERITIES):
        lines.append(f"  {severity:<8} {counts['by_severity'][severity]}")
    open_bugs = [bug for bug in bugs if bug.is_open]
    open_bugs.sort(key=lambda bug: severity_rank(bug.severity))
    for bug in open_bugs:
        labels = ", ".join(bug.labels) or "-"
        lines.append(f"#{bug.id} [{bug.severity}] {bug.title} ({labels})")
    return "\n".join(lines)
