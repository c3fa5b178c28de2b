"""labkit.patterns.audit: a hash-chained audit log, and a verifier that finds an edited, a
deleted or a reordered entry, and (given the head kept elsewhere) entries cut off the end."""
import json
from dataclasses import replace

import pytest

from labkit.patterns.audit import AuditLog, read, verify


@pytest.fixture
def log(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    for target in ("BUG-1", "BUG-2", "BUG-3", "BUG-4"):
        log.append(actor="triager", action="file_ticket", target=target, outcome="allowed")
    return log


def test_an_intact_log_verifies_and_goes_on_where_it_stopped(log):
    assert verify(read(log.path), head=log.head) == []
    again = AuditLog(log.path)
    entry = again.append(actor="maintainer", action="close_bug", target="BUG-1", outcome="held")
    assert entry.number == 4 and verify(read(log.path), head=again.head) == []


def test_an_edited_entry_is_found(log):
    entries = read(log.path)
    entries[1] = replace(entries[1], outcome="denied")
    assert verify(entries) == ["Entry 1 was edited: its hash does not match what it says."]


def test_a_deleted_entry_is_found(log):
    entries = read(log.path)
    del entries[1]
    assert verify(entries)[0].startswith("Entry 2 is in place 1: entries before it were deleted")


def test_reordered_entries_are_found(log):
    entries = read(log.path)
    entries[1], entries[2] = entries[2], entries[1]
    assert "Entry 2 is in place 1" in verify(entries)[0]


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_chain(log):
    from labkit.patterns.audit import hash_of

    entries = read(log.path)
    forged = replace(entries[2], outcome="denied")
    entries[2] = replace(forged, hash=hash_of(forged))  # a forger who recomputes the hash
    assert verify(entries) == ["Entry 3 does not follow the entry before it: one was replaced."]


def test_entries_cut_off_the_end_are_found_only_against_the_head(log):
    entries = read(log.path)[:-1]
    assert verify(entries) == []
    assert "it was cut short or rewritten" in verify(entries, head=log.head)[0]


def test_a_broken_log_is_not_appended_to_and_a_bad_line_is_named(log):
    lines = log.path.read_text().splitlines()
    log.path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with pytest.raises(ValueError, match="is not a whole chain, so nothing is appended to it"):
        AuditLog(log.path)
    log.path.write_text(lines[0] + "\n" + json.dumps({"actor": "x"}) + "\n")
    with pytest.raises(ValueError, match="line 2: not an audit entry"):
        read(log.path)


def test_a_log_rewritten_whole_passes_alone_and_is_found_against_the_kept_head(log):
    from labkit.patterns.audit import GENESIS, hash_of

    rewritten, previous = [], GENESIS
    for entry in read(log.path):
        entry = replace(entry, outcome="denied", previous=previous)
        rewritten.append(replace(entry, hash=hash_of(entry)))
        previous = rewritten[-1].hash
    assert verify(rewritten) == []  # the chain has no key: whole again
    assert "it was cut short or rewritten" in verify(rewritten, head=log.head)[0]
