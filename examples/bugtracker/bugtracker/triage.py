"""Triage rules: guess a bug's severity and labels from the words of its report."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .models import Bug, severity_rank
from .store import BugStore


@dataclass(frozen=True)
class Rule:
    """If `pattern` occurs in a report, the bug is at least `severity` and gets `label`."""

    pattern: str
    severity: str
    label: str

    def applies_to(self, text: str) -> bool:
        """True if the pattern occurs anywhere in the text, ignoring case."""
        return re.search(self.pattern, text, re.IGNORECASE) is not None


DEFAULT_RULES = (
    Rule(r"\b(data loss|corrupt\w*)\b", "critical", "data"),
    Rule(r"\b(crash\w*|segfault|traceback)\b", "high", "crash"),
    Rule(r"\b(password|token|xss|injection)\b", "high", "security"),
    Rule(r"\b(slow|timeout|hangs?)\b", "medium", "performance"),
    Rule(r"\b(typo|spelling|colou?r|alignment)\b", "low", "cosmetic"),
)


def classify(text: str, rules=DEFAULT_RULES) -> tuple[str, list[str]]:
    """The severity and the labels that the rules give to a text.

    The severity is the highest among the matching rules, "medium" if none matches;
    the labels are those of all matching rules, sorted.
    """
    matched = [rule for rule in rules if rule.applies_to(text)]
    if not matched:
        return "medium", []
    severity = max((rule.severity for rule in matched), key=severity_rank)
    return severity, sorted({rule.label for rule in matched})


def triage(bug: Bug, rules=DEFAULT_RULES) -> Bug:
    """Set a bug's severity and add labels, judging by its title and body.

    The default severity, "medium", is replaced by the rules' verdict; any other
    severity, set by a person, is only ever raised. Existing labels are kept.
    """
    severity, labels = classify(f"{bug.title}\n{bug.body}", rules)
    if bug.severity == "medium" or severity_rank(severity) > severity_rank(bug.severity):
        bug.severity = severity
    for label in labels:
        if label not in bug.labels:
            bug.labels.append(label)
    return bug


def triage_all(store: BugStore, rules=DEFAULT_RULES) -> int:
    """Triage every open bug in a store and save the changes; return how many changed."""
    changed = 0
    for bug in store.all(status="open"):
        before = (bug.severity, list(bug.labels))
        triage(bug, rules)
        if (bug.severity, bug.labels) != before:
            store.update(bug)
            changed += 1
    return changed
