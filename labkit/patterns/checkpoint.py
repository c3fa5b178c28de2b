"""Checkpoints: a run's progress in SQLite, committed after every step, so a run killed at any
moment (kill -9 included) resumes where it stopped: no finished step lost, no side effect done
twice.

    store = RunStore("run.sqlite")
    value = await store.step("BUG-7", "triage", triage)         # skipped if done before
    store.record("BUG-7", "file", ticket, effect=file_ticket)   # the effect commits with it
    store.once("file:BUG-7", send_page)                          # an idempotency key

A step's output and its side effect commit in one SQLite transaction: either both are on disk
or neither is. An effect outside the database (a web hook, an e-mail) cannot join that
transaction; it gets an idempotency key instead, which the receiver must honour too.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Awaitable, Callable

from ..observe import trace

SCHEMA = """
CREATE TABLE IF NOT EXISTS steps (task TEXT, step TEXT, output TEXT NOT NULL,
                                  PRIMARY KEY (task, step));
CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, result TEXT NOT NULL);
"""


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read as one."""


class RunStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            # Autocommit off, transactions explicit (`with self.db`): one commit per step.
            # Any thread: a notebook's cells that await run in labkit's model-time thread.
            self.db = sqlite3.connect(self.path, isolation_level="DEFERRED",
                                      check_same_thread=False)
            self.db.executescript(SCHEMA)
            self.db.execute("SELECT task, step, output FROM steps LIMIT 1").fetchall()
            self.db.execute("SELECT key, result FROM effects LIMIT 1").fetchall()
        except sqlite3.DatabaseError as error:
            raise CheckpointError(
                f"{self.path} is not a run's checkpoint ({error}). It may be corrupt, or another "
                "program's file: move it away, or delete it to start the run from the beginning."
            ) from None
        self.skipped = 0  # steps found done, this session

    def output(self, task: str, step: str) -> tuple[bool, Any]:
        """(True, the output) if the step is done, else (False, None)."""
        row = self.db.execute("SELECT output FROM steps WHERE task = ? AND step = ?",
                              (task, step)).fetchone()
        return (False, None) if row is None else (True, json.loads(row[0]))

    def record(self, task: str, step: str, output: Any,
               effect: Callable[[sqlite3.Connection], Any] | None = None) -> None:
        """Mark the step done with its output (JSON data), and run `effect(db)` in the same
        transaction: both commit, or neither does."""
        text = json.dumps(output)
        with self.db:
            if effect is not None:
                effect(self.db)
            self.db.execute("INSERT OR REPLACE INTO steps VALUES (?, ?, ?)", (task, step, text))

    async def step(self, task: str, step: str, run: Callable[[], Awaitable[Any]],
                   effect: Callable[[Any], Callable[[sqlite3.Connection], Any]] | None = None) -> Any:
        """The step's output: from the checkpoint if it is done, else `await run()`, recorded
        (with `effect(output)` in the same transaction, if given)."""
        done, output = self.output(task, step)
        if done:
            self.skipped += 1
            trace.mark(f"{step} from checkpoint", kind="checkpoint", task=task)
            return output
        output = await run()
        self.record(task, step, output, effect(output) if effect else None)
        return output

    def once(self, key: str, effect: Callable[[], Any]) -> Any:
        """Run `effect()` once per key, ever: a second call returns the first one's result.
        For effects outside this database: a crash between the effect and the commit still
        repeats it, so send the key to the receiver too (an Idempotency-Key header)."""
        row = self.db.execute("SELECT result FROM effects WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return json.loads(row[0])
        result = effect()
        with self.db:
            self.db.execute("INSERT INTO effects VALUES (?, ?)", (key, json.dumps(result)))
        return result

    def done(self) -> dict[tuple[str, str], Any]:
        """Every finished step's output, by (task, step)."""
        return {(task, step): json.loads(output)
                for task, step, output in self.db.execute("SELECT * FROM steps ORDER BY rowid")}

    def close(self) -> None:
        self.db.close()
