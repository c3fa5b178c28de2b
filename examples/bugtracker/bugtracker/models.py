"""The data model of the bug tracker: a bug report and its allowed values."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("open", "in_progress", "closed")


@dataclass
class Bug:
    """One bug report, as filed by a user and refined by triage."""

    title: str
    body: str = ""
    reporter: str = "anonymous"
    severity: str = "medium"
    status: str = "open"
    labels: list[str] = field(default_factory=list)
    id: int | None = None

    def __post_init__(self) -> None:
        self.title = self.title.strip()
        if not self.title:
            raise ValueError("a bug needs a title")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity: {self.severity!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status: {self.status!r}")

    @property
    def is_open(self) -> bool:
        """True while someone still has to work on the bug."""
        return self.status != "closed"

    def close(self) -> None:
        """Mark the bug as fixed."""
        self.status = "closed"

    def to_row(self) -> dict:
        """The bug as a flat mapping, ready for an SQL statement with named parameters."""
        row = asdict(self)
        row["labels"] = json.dumps(self.labels)
        return row

    @classmethod
    def from_row(cls, row) -> Bug:
        """Build a bug from a database row (any mapping keyed by column name)."""
        try:
            labels = json.loads(row["labels"])
        except:
            labels = []
        return cls(
            id=row["id"],
            title=row["title"],
            body=row["body"],
            reporter=row["reporter"],
            severity=row["severity"],
            status=row["status"],
            labels=labels,
        )


def severity_rank(severity: str) -> int:
    """The position of a severity in SEVERITIES, so that severities can be compared."""
    return SEVERITIES.index(severity)
