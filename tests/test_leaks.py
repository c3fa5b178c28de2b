"""labkit.patterns.leaks: secrets and personal data found, and redacted wherever they could leak."""
import json

import pytest

import labkit
from labkit.llm.config import REPO_ROOT
from labkit.llm.scripted import ScriptedModel
from labkit.observe import trace
from labkit.patterns import leaks

AWS = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key
CARD = "4111 1111 1111 1111"  # a test card number: passes Luhn


@pytest.mark.parametrize("text, kind, found", [
    (f"key {AWS} here", "SECRET", AWS),
    ("token ghp_" + "R8q2Lk9Xw3Vt7Mz1Pb6Nc4Hd0Sf5Jy2Ga8Ue" + " ok", "SECRET",
     "ghp_" + "R8q2Lk9Xw3Vt7Mz1Pb6Nc4Hd0Sf5Jy2Ga8Ue"),     # the whole token, not its prefix
    ("db_password = 'Tr0ub4dor&3'", "PASSWORD", "Tr0ub4dor&3"),
])
def test_secrets_are_found_with_their_kind_and_exact_text(text, kind, found):
    assert [(f.kind, f.text, text[f.start:f.end]) for f in leaks.secrets(text)] == \
        [(kind, found, found)]


@pytest.mark.parametrize("text, expected", [
    ("mail ana@example.org now", [("EMAIL", "ana@example.org")]),
    (f"card {CARD}.", [("CARD", CARD)]),
    ("order 4111 1111 1111 1112.", []),                      # fails Luhn
    ("IBAN GB82 WEST 1234 5698 7654 32", [("IBAN", "GB82 WEST 1234 5698 7654 32")]),
    ("from 203.0.113.42.", [("IPV4", "203.0.113.42")]),
    ("server 10.0.0.256", []),
    ("call +44 20 7946 0958", [("PHONE", "+44 20 7946 0958")]),
    ("version 2.4.10 on 2026-11-30", []),
])
def test_personal_data_recognizers_check_what_they_can(text, expected):
    assert [(f.kind, f.text) for f in leaks.personal_data(text)] == expected


def test_a_finding_never_shows_its_text_in_a_repr():
    (finding,) = leaks.secrets(f"key {AWS}")
    assert AWS not in repr(finding)


def test_redact_replaces_every_finding_by_its_kind():
    assert leaks.redact(f"jo@example.com paid with {CARD} from {AWS}") == \
        "[EMAIL] paid with [CARD] from [SECRET]"


def test_measure_counts_exact_matches_only():
    items = [{"text": f"a@example.org and {CARD}",
              "labels": [{"kind": "EMAIL", "text": "a@example.org"}]},
             {"text": "nothing", "labels": [{"kind": "EMAIL", "text": "b@example.org"}]}]
    assert leaks.measure(leaks.personal_data, items, {"EMAIL"}) == \
        {"found": 1, "labelled": 2, "precision": 1.0, "recall": 0.5}
    # the card is found and labelled nowhere: every finding wrong, and no recall to speak of
    assert leaks.measure(leaks.personal_data, items, {"CARD"}) == \
        {"found": 1, "labelled": 0, "precision": 0.0, "recall": None}


def test_the_shipped_labelled_set_scores_as_the_notebook_says():
    items = json.loads((REPO_ROOT / "examples" / "leaks" / "labelled.json").read_text())["items"]
    shape = leaks.measure(leaks.secrets, items, {"SECRET", "PASSWORD"})
    assert shape["precision"] == 1.0 and shape["recall"] < 1.0  # the shapeless key is missed
    entropy = leaks.measure(lambda t: leaks.secrets(t, entropy=True), items, {"SECRET", "PASSWORD"})
    assert entropy["recall"] == 1.0 and entropy["precision"] < 1.0  # and a cache key flagged


def test_logs_are_redacted_before_a_handler_writes_them(redacting_log):
    log, written = redacting_log
    log.warning("user %s, key %s", "jo@example.com", AWS)
    assert written.getvalue() == "user [EMAIL], key [SECRET]\n"


def test_a_trace_holds_no_answer_text_so_no_secret(unit_session):
    scripted = ScriptedModel([f"the key is {AWS}"])
    with trace.Trace() as run, labkit.override(client=scripted):
        labkit.chat("what is the key? mail jo@example.com", agent="triager")
    exported = run.to_json()
    assert len(run) >= 1 and AWS not in exported and "jo@example.com" not in exported
