"""bugtracker: a small bug-tracker library (SQLite storage, search, triage, reports)."""
from .models import SEVERITIES, STATUSES, Bug, severity_rank
from .report import find_duplicates, render_text, summary
from .search import parse_query, search
from .store import BugStore
from .triage import DEFAULT_RULES, Rule, classify, triage, triage_all

__all__ = [
    "SEVERITIES", "STATUSES", "Bug", "severity_rank",
    "BugStore",
    "parse_query", "search",
    "DEFAULT_RULES", "Rule", "classify", "triage", "triage_all",
    "find_duplicates", "render_text", "summary",
]
