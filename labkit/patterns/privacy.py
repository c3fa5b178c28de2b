"""Data privacy for agents (OWASP LLM02 sensitive information disclosure; GDPR's erasure).

Pseudonyms   personal data replaced by placeholders ([EMAIL_1]) before a prompt leaves the
             process; the mapping stays here, and `restore` gives the real values back only to
             a role allowed to see them
Records      transcripts and checkpoints encrypted at rest (Fernet: AES-128-CBC with an HMAC),
             each with its data subject and an expiry: `purge_expired` is the retention job,
             `erase(subject)` answers one person's request to be forgotten
data_key     the encryption key from the environment, never from a notebook or a file in the repo
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .access import Denied, Roles
from .leaks import personal_data


class Pseudonyms:
    """One conversation's placeholders: the same value always gets the same placeholder."""

    def __init__(self) -> None:
        self._by_value: dict[str, str] = {}

    def hide(self, text: str) -> str:
        """`text` with every piece of personal data replaced by a placeholder."""
        for finding in sorted(personal_data(text), key=lambda f: f.start, reverse=True):
            if finding.text not in self._by_value:
                count = sum(p.startswith(f"[{finding.kind}_") for p in self._by_value.values())
                self._by_value[finding.text] = f"[{finding.kind}_{count + 1}]"
            text = text[:finding.start] + self._by_value[finding.text] + text[finding.end:]
        return text

    def restore(self, text: str, role: str, roles: Roles, agent: str) -> str:
        """The placeholders in `text` put back, for a role whose grant covers "personal data";
        Denied for any other (who then sees the placeholders, never the values)."""
        roles.check(role, agent=agent, data="personal data")
        by_placeholder = {p: v for v, p in self._by_value.items()}
        return re.sub(r"\[[A-Z0-9]+_\d+\]", lambda m: by_placeholder.get(m.group(), m.group()),
                      text)


def data_key(variable: str = "LABKIT_DATA_KEY") -> bytes:
    """The key that encrypts stored records, from the environment (a secrets manager or a
    keyring puts it there); a clear error, with how to make one, when it is not set."""
    key = os.environ.get(variable)
    if not key:
        raise KeyError(f"{variable} is not set. Make a key once with "
                       "`python -c 'from cryptography.fernet import Fernet; "
                       "print(Fernet.generate_key().decode())'`, keep it in your secrets manager, "
                       f"and export {variable} before the run. Never write it into a notebook.")
    return key.encode()


class Records:
    """Encrypted records in SQLite, each with its subject and its expiry."""

    def __init__(self, path: str | Path, key: bytes) -> None:
        self.fernet = Fernet(key)
        self.db = sqlite3.connect(Path(path))
        with self.db:
            self.db.execute("CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, "
                            "subject TEXT, expires_at REAL, sealed BLOB)")

    def put(self, subject: str, record: dict, now: float, keep_s: float) -> int:
        sealed = self.fernet.encrypt(json.dumps(record).encode())
        with self.db:
            cursor = self.db.execute("INSERT INTO records (subject, expires_at, sealed) "
                                     "VALUES (?, ?, ?)", (subject, now + keep_s, sealed))
        return cursor.lastrowid

    def get(self, id: int) -> dict:
        row = self.db.execute("SELECT sealed FROM records WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise KeyError(f"No record #{id}: it expired, was erased, or never was.")
        try:
            return json.loads(self.fernet.decrypt(row[0]))
        except InvalidToken:
            raise ValueError(f"Record #{id} cannot be read with this key: it was encrypted with "
                             "another one (or changed on disk). Use the key it was stored "
                             "with.") from None

    def ids(self) -> list[int]:
        return [id for (id,) in self.db.execute("SELECT id FROM records ORDER BY id")]

    def purge_expired(self, now: float) -> int:
        """The retention job: delete every record whose time is up; how many went."""
        return self._delete("expires_at <= ?", (now,))

    def erase(self, subject: str) -> int:
        """Delete every record about `subject` (a request to be forgotten); how many went."""
        return self._delete("subject = ?", (subject,))

    def _delete(self, where: str, args: tuple) -> int:
        with self.db:
            gone = self.db.execute(f"DELETE FROM records WHERE {where}", args).rowcount
        self.db.execute("VACUUM")  # deleted pages are rewritten: nothing left in the file
        return gone

    def close(self) -> None:
        self.db.close()
