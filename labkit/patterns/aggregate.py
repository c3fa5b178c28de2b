"""Merging what several agents found: group duplicates, vote, verify, rank, and score.

    issues = group(findings)                 # union: every issue once, with who reported it
    issues = majority(findings, voters=3)    # only what most agents agree on
    issues = verified(findings, check)       # only what a verifier confirms, its best report
    score(rank(issues), known_flaws)         # precision, recall and F1 against the known flaws
    assign(rank(issues), known_flaws)        # which issue found each flaw, one each
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

WINDOW = 2  # findings this many lines apart, same file and category, are one issue
# "logic": the code does not do what it says (its docstring, its name): no linter sees it.
CATEGORY_WEIGHT = {"security": 5, "logic": 4, "performance": 3, "tests": 2, "style": 1}


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    category: str  # one of CATEGORY_WEIGHT
    problem: str
    agent: str = ""
    end: int | None = None  # the last line, when the finding is about a range (a function)


@dataclass(frozen=True)
class Issue:
    """One problem, however many agents reported it."""

    findings: tuple[Finding, ...]  # every report of it, in the order they came

    @property
    def first(self) -> Finding:
        return self.findings[0]

    @property
    def agents(self) -> list[str]:
        return list(dict.fromkeys(f.agent for f in self.findings))

    @property
    def votes(self) -> int:
        return len(self.agents)


def same_issue(a: Finding, b: Finding, window: int = WINDOW) -> bool:
    return a.file == b.file and a.category == b.category and abs(a.line - b.line) <= window


def group(findings: list[Finding], window: int = WINDOW) -> list[Issue]:
    """The union: each finding joins the first issue whose first report it duplicates."""
    groups: list[list[Finding]] = []
    for finding in findings:
        match = next((g for g in groups if same_issue(g[0], finding, window)), None)
        if match is None:
            groups.append([finding])
        else:
            match.append(finding)
    return [Issue(tuple(g)) for g in groups]


def majority(findings: list[Finding], voters: int, window: int = WINDOW) -> list[Issue]:
    """Only issues more than half of the `voters` agents reported."""
    return [issue for issue in group(findings, window) if issue.votes * 2 > voters]


def verified(findings: list[Finding], verifier: Callable[[Finding], float],
             window: int = WINDOW) -> list[Issue]:
    """Issues the verifier confirms (score above 0), each led by its best-scored report."""
    kept = []
    for issue in group(findings, window):
        scored = sorted(issue.findings, key=verifier, reverse=True)  # stable: ties keep order
        if verifier(scored[0]) > 0:
            kept.append(Issue(tuple(scored)))
    return kept


def rank(issues: list[Issue]) -> list[Issue]:
    """Most severe category first, then the most agents in agreement, then by place."""
    return sorted(issues, key=lambda i: (-CATEGORY_WEIGHT.get(i.first.category, 0), -i.votes,
                                         i.first.file, i.first.line))


def matches(issue: Issue, flaw: dict, window: int = WINDOW) -> bool:
    """Does the issue point at this known flaw? A flaw at line 1 is about the whole file."""
    finding = issue.first
    near = finding.line - window <= flaw["line"] <= (finding.end or finding.line) + window
    return (finding.file == flaw["file"] and finding.category == flaw["category"]
            and (flaw["line"] == 1 or near))


def assign(issues: list[Issue], known: list[dict]) -> dict[str, Issue | None]:
    """Each known flaw, by id, with the issue that found it (None if none did).

    A flaw is found at most once and an issue finds at most one flaw, taken in the order
    given (rank them first): ten reports of one untested module are one hit, not ten.
    """
    taken: set[int] = set()
    found: dict[str, Issue | None] = {}
    for flaw in known:
        number = next((n for n, issue in enumerate(issues)
                       if n not in taken and matches(issue, flaw)), None)
        if number is not None:
            taken.add(number)
        found[flaw["id"]] = None if number is None else issues[number]
    return found


def score(issues: list[Issue], known: list[dict]) -> dict:
    """Precision (share of issues that found a flaw), recall (share of flaws found) and F1."""
    found = [flaw_id for flaw_id, issue in assign(issues, known).items() if issue is not None]
    precision = len(found) / len(issues) if issues else 0.0
    recall = len(found) / len(known) if known else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"issues": len(issues), "real": len(found), "precision": precision, "recall": recall,
            "f1": f1, "found": found}
