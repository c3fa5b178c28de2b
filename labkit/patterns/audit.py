"""An audit log that shows tampering (OWASP agentic threat T8, repudiation and untraceability).

    log = AuditLog("audit.jsonl")
    log.append(actor="triager", action="file_ticket", target="BUG-7", outcome="allowed")
    verify(read("audit.jsonl"))          # [] while intact, else what was changed, and where

Append-only JSON lines; each entry holds its number and the hash of the entry before it, and
its own hash covers both. Editing an entry breaks its hash, deleting one breaks the numbers and
the chain, moving one breaks both. The chain has no key, though: whoever can write the file can
rewrite it whole (rehashing every entry after a change) or cut entries off the end, and the
result is a whole chain again. Keep `log.head` where the log's writer cannot change it (another
system, a ticket, a transparency log), and verify against it: that finds both.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

GENESIS = "0" * 64  # what the first entry follows


@dataclass(frozen=True)
class Entry:
    number: int
    actor: str
    action: str
    target: str
    outcome: str
    previous: str  # the hash of the entry before
    hash: str = ""


def hash_of(entry: Entry) -> str:
    """SHA-256 of every field but the hash itself, in a fixed order."""
    fields = {k: v for k, v in asdict(entry).items() if k != "hash"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def read(path: str | Path) -> list[Entry]:
    entries = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        try:
            entries.append(Entry(**json.loads(line)))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}, line {number}: not an audit entry ({error}).") from None
    return entries


class AuditLog:
    """Appends entries to a JSON-lines file, each chained to the one before; never rewrites."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        existing = read(self.path) if self.path.exists() else []
        problems = verify(existing)
        if problems:
            raise ValueError(f"{self.path} is not a whole chain, so nothing is appended to it: "
                             f"{problems[0]} Keep it as evidence and start a new log.")
        self.count, self.head = len(existing), existing[-1].hash if existing else GENESIS

    def append(self, *, actor: str, action: str, target: str, outcome: str) -> Entry:
        entry = Entry(self.count, actor, action, target, outcome, previous=self.head)
        entry = Entry(**{**asdict(entry), "hash": hash_of(entry)})
        with self.path.open("a") as file:
            file.write(json.dumps(asdict(entry)) + "\n")
            file.flush()
            os.fsync(file.fileno())  # on disk before the action it records goes ahead
        self.count, self.head = self.count + 1, entry.hash
        return entry


def verify(entries: list[Entry], head: str | None = None) -> list[str]:
    """What breaks the chain, entry by entry: [] when every entry is as written, in order, with
    none missing (and, given the `head` kept elsewhere, none cut off the end)."""
    problems, previous = [], GENESIS
    for position, entry in enumerate(entries):
        if entry.hash != hash_of(entry):
            problems.append(f"Entry {entry.number} was edited: its hash does not match what it "
                            "says.")
        if entry.number != position:
            problems.append(f"Entry {entry.number} is in place {position}: entries before it "
                            "were deleted, or the entries were reordered.")
        elif entry.previous != previous:
            problems.append(f"Entry {entry.number} does not follow the entry before it: one "
                            "was replaced.")
        previous = entry.hash
    if head is not None and previous != head:
        problems.append("The log does not end where it was known to end: it was cut short "
                        "or rewritten, or it is another log.")
    return problems
