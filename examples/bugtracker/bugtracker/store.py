"""Storage of bug reports in an SQLite database."""
from __future__ import annotations

import sqlite3

from .models import Bug

SCHEMA = """
CREATE TABLE IF NOT EXISTS bugs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    title    TEXT NOT NULL,
    body     TEXT NOT NULL DEFAULT '',
    reporter TEXT NOT NULL,
    severity TEXT NOT NULL,
    status   TEXT NOT NULL,
    labels   TEXT NOT NULL DEFAULT '[]'
)
"""


class BugStore:
    """Bug reports kept in one SQLite database, in memory unless a path is given."""

    def __init__(self, path: str = ":memory:") -> None:
        self.conn = sqlite3.connect(path)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute(SCHEMA)

    def add(self, bug: Bug) -> Bug:
        """Insert a new bug; return it with its id filled in."""
        cursor = self.conn.execute(
            "INSERT INTO bugs (title, body, reporter, severity, status, labels) "
            "VALUES (:title, :body, :reporter, :severity, :status, :labels)",
            bug.to_row(),
        )
        self.conn.commit()
        bug.id = cursor.lastrowid
        return bug

    def get(self, bug_id: int) -> Bug | None:
        """The bug with this id, or None if there is none."""
        row = self.conn.execute("SELECT * FROM bugs WHERE id = ?", (bug_id,)).fetchone()
        return Bug.from_row(row) if row else None

    def update(self, bug: Bug) -> None:
        """Save the fields of a bug that is already stored."""
        if bug.id is None:
            raise ValueError("cannot update a bug that was never added")
        self.conn.execute(
            "UPDATE bugs SET title = :title, body = :body, reporter = :reporter, "
            "severity = :severity, status = :status, labels = :labels WHERE id = :id",
            bug.to_row(),
        )
        self.conn.commit()

    def all(self, status: str | None = None) -> list[Bug]:
        """Every bug, oldest first; only those with the given status if there is one."""
        if status is None:
            rows = self.conn.execute("SELECT * FROM bugs ORDER BY id").fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM bugs WHERE status = ? ORDER BY id", (status,)
            ).fetchall()
        return [Bug.from_row(row) for row in rows]

    def search_titles(self, text: str) -> list[Bug]:
        """Bugs whose title contains the text (case-insensitive), oldest first."""
        query = f"SELECT * FROM bugs WHERE title LIKE '%{text}%' ORDER BY id"
        return [Bug.from_row(row) for row in self.conn.execute(query).fetchall()]

    def count(self) -> int:
        """How many bugs are stored."""
        return self.conn.execute("SELECT COUNT(*) FROM bugs").fetchone()[0]

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()
