"""What recovery cannot do: escalations a person answers later, and dead letters.

    queue = EscalationQueue("run.sqlite")
    ticket = queue.escalate("BUG-7", "no valid triage after 3 tiers", proposal={"severity": "high"})
    queue.decide(ticket, policy=HOLD)       # headless: the stated default, never a wait
    approval_panel(queue)                   # in JupyterLab: a person approves or rejects later

Both live in SQLite, so nothing is lost when the kernel stops, and a person can answer days
later. Nothing here ever waits for a person: a run asks the queue for a decision, and where
there is none yet, the policy's default decides (HOLD keeps the task for a person).
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import CheckpointError

HOLD, APPROVE, REJECT = "hold", "approve", "reject"
POLICIES = (HOLD, APPROVE, REJECT)

SCHEMA = """
CREATE TABLE IF NOT EXISTS escalations (id INTEGER PRIMARY KEY, task TEXT, reason TEXT,
    proposal TEXT, decision TEXT, decided_by TEXT);
CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, task TEXT, step TEXT,
    reason TEXT, payload TEXT);
"""


@dataclass(frozen=True)
class Escalation:
    id: int
    task: str
    reason: str
    proposal: Any
    decision: str | None  # None while no one has answered
    decided_by: str | None


def _open(path: str | Path) -> sqlite3.Connection:
    try:
        # Any thread: runs escalate from labkit's model-time thread, a panel's clicks answer
        # from the kernel's.
        db = sqlite3.connect(Path(path), isolation_level="DEFERRED", check_same_thread=False)
        db.executescript(SCHEMA)
        return db
    except sqlite3.DatabaseError as error:
        raise CheckpointError(f"{path} cannot hold escalations ({error}): move it away, or "
                              "delete it to start again.") from None


class EscalationQueue:
    def __init__(self, path: str | Path) -> None:
        self.db = _open(path)

    def escalate(self, task: str, reason: str, proposal: Any = None) -> int:
        """Put a task before a person, with why and what the system would do; its id."""
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO escalations (task, reason, proposal) VALUES (?, ?, ?)",
                (task, reason, json.dumps(proposal)))
        return cursor.lastrowid

    def answer(self, id: int, decision: str, by: str) -> None:
        """A person's decision: approve or reject."""
        if decision not in (APPROVE, REJECT):
            raise ValueError(f"answer(decision={decision!r}): a person approves or rejects: "
                             f"{APPROVE!r} or {REJECT!r}.")
        with self.db:
            changed = self.db.execute("UPDATE escalations SET decision = ?, decided_by = ? "
                                      "WHERE id = ? AND decision IS NULL", (decision, by, id))
        if changed.rowcount == 0:
            raise ValueError(f"No open escalation #{id}: it was answered already, or never made.")

    def decide(self, id: int, policy: str = HOLD) -> str:
        """The person's decision if there is one, else the policy's default: at once."""
        if policy not in POLICIES:
            raise ValueError(f"decide(policy={policy!r}): the policies are {', '.join(POLICIES)}.")
        row = self.db.execute("SELECT decision FROM escalations WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise ValueError(f"No escalation #{id}.")
        return row[0] or policy

    def all(self, pending: bool = False) -> list[Escalation]:
        query = "SELECT * FROM escalations" + (" WHERE decision IS NULL" if pending else "")
        return [Escalation(id, task, reason, json.loads(proposal), decision, by)
                for id, task, reason, proposal, decision, by in self.db.execute(query)]


class DeadLetters:
    """What could not be done, kept with its reason and its input, never dropped."""

    def __init__(self, path: str | Path) -> None:
        self.db = _open(path)

    def add(self, task: str, step: str, reason: str, payload: Any = None) -> None:
        with self.db:
            self.db.execute("INSERT INTO dead_letters (task, step, reason, payload) "
                            "VALUES (?, ?, ?, ?)", (task, step, reason, json.dumps(payload)))

    def all(self) -> list[dict]:
        return [{"task": task, "step": step, "reason": reason, "payload": json.loads(payload)}
                for _, task, step, reason, payload in self.db.execute("SELECT * FROM dead_letters")]


def approval_panel(queue: EscalationQueue, by: str = "you"):
    """A panel of the open escalations, each with Approve and Reject buttons that answer it in
    the queue. It only shows: no code waits on it, so a headless run goes on regardless."""
    import ipywidgets as widgets  # only when a panel is asked for

    rows = []
    for item in queue.all(pending=True):
        status = widgets.Label("waiting")

        buttons = [widgets.Button(description=name, button_style=style)
                   for name, style in (("Approve", "success"), ("Reject", "danger"))]

        def answered(button, item=item, status=status, buttons=buttons):
            decision = button.description.lower()
            queue.answer(item.id, decision, by)
            status.value = f"{'approved' if decision == APPROVE else 'rejected'} by {by}"
            for other in buttons:  # answered once: no second answer
                other.disabled = True

        for button in buttons:
            button.on_click(answered)
        rows.append(widgets.HBox([widgets.Label(f"#{item.id} {item.task}: {item.reason}"),
                                  *buttons, status]))
    return widgets.VBox(rows or [widgets.Label("No open escalations.")])
