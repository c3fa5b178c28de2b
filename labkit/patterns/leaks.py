"""Output security: find secrets and personal data before a text leaves an agent (notebook 06;
OWASP LLM02 sensitive information disclosure, LLM05 improper output handling).

secrets        detect-secrets' plugins, line by line: keys and tokens by their known shapes
               (AWS, GitHub, Slack, Stripe, private keys, ...), optionally by entropy; and
               the course's own keys (lk- and 32 hex digits, patterns/access.py)
personal_data  recognizers of our own: e-mail, phone, payment card (Luhn), IBAN (mod 97), IPv4
redact         every finding replaced by its kind, e.g. [EMAIL]
RedactingFilter  a logging filter: what a log line would leak is redacted before it is written

Presidio does personal data properly (names and places too, with a spaCy model); no package
index here serves a spaCy model, so notebook 06 shows presidio's API and uses these instead.
"""
from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from detect_secrets import SecretsCollection
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.settings import transient_settings

# Entropy plugins flag any random-looking string (git hashes, ids, base64 images): off by default.
# Public IP addresses are personal data here (personal_data), not secrets.
SHAPE_PLUGINS = [{"name": plugin.__name__}
                 for plugin in get_mapping_from_secret_type_to_class().values()
                 if "HighEntropy" not in plugin.__name__ and plugin.__name__ != "IPPublicDetector"]
ENTROPY_PLUGINS = [{"name": "Base64HighEntropyString", "limit": 4.5},
                   {"name": "HexHighEntropyString", "limit": 3.0}]


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str = field(repr=False)  # never in a repr: a printed finding must not leak it


def secrets(text: str, entropy: bool = False) -> list[Finding]:
    """Every secret detect-secrets finds in `text`, with where it is. The text is scanned as a
    file is, so detect-secrets' own filters (sequences, ids, templates) and entropy limits apply:
    its ad hoc `scan_line` skips them, and flags nearly every word."""
    plugins = SHAPE_PLUGINS + (ENTROPY_PLUGINS if entropy else [])
    lines = text.splitlines(keepends=True)
    starts = [sum(len(line) for line in lines[:i]) for i in range(len(lines))]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "answer.txt"
        path.write_text(text)
        with transient_settings({"plugins_used": plugins}):
            collection = SecretsCollection()
            collection.scan_file(str(path))
    found = []
    # A known shape first: a Stripe key after "api_key =" is a key, not a password.
    for _, secret in sorted(collection, key=lambda pair: "Keyword" in pair[1].type):
        line, value = lines[secret.line_number - 1], secret.secret_value or ""
        at = line.find(value) if value else -1
        if at >= 0:
            # Some plugins report only a token's prefix ("ghp"): take the whole token.
            end = at + len(value) + len(re.match(r"\w*", line[at + len(value):]).group())
            kind = "PASSWORD" if "Keyword" in secret.type else "SECRET"
            offset = starts[secret.line_number - 1]
            found.append(Finding(kind, offset + at, offset + end, line[at:end]))
    found += [Finding("SECRET", m.start(), m.end(), m.group()) for m in COURSE_KEY.finditer(text)]
    return _without_overlaps(found)


# The course's own API keys (patterns/access.py): a shape detect-secrets cannot know.
COURSE_KEY = re.compile(r"(?<![\w-])lk-[0-9a-f]{32}(?![\w-])")


def _luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(int(d) for d in reversed(digits)):
        total += digit if position % 2 == 0 else (digit * 2 - 9 if digit > 4 else digit * 2)
    return total % 10 == 0


def _iban(text: str) -> bool:
    compact = text.replace(" ", "")
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


# In order: a text claimed by an earlier recognizer is not offered to a later one.
RECOGNIZERS = [
    ("EMAIL", re.compile(r"(?<![\w.%+:-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                         r"\.[A-Za-z]{2,}\b"), None),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _iban),
    ("CARD", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
     lambda text: _luhn(re.sub(r"\D", "", text))),
    ("IPV4", re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                        r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)"), None),
    ("PHONE", re.compile(r"(?<![\w+(])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}"
                         r"(?:[ .-]\d{2,4}){1,4}(?![\w-])"),
     lambda text: 9 <= len(re.sub(r"\D", "", text)) <= 15),
]


SECRET_KINDS = frozenset({"SECRET", "PASSWORD"})  # what `secrets` finds
PERSONAL_KINDS = frozenset(kind for kind, _, _ in RECOGNIZERS)  # what `personal_data` finds


def personal_data(text: str) -> list[Finding]:
    """Every e-mail address, phone number, valid card number, valid IBAN and IPv4 address."""
    found = []
    for kind, pattern, valid in RECOGNIZERS:
        for match in pattern.finditer(text):
            if valid is None or valid(match.group()):
                found.append(Finding(kind, match.start(), match.end(), match.group()))
    return _without_overlaps(found)


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in found:  # the earlier recognizer wins a contested span
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


def redact(text: str, findings: list[Finding] | None = None) -> str:
    """`text` with each finding replaced by its kind in brackets; by default, secrets and
    personal data both."""
    if findings is None:
        findings = _without_overlaps(secrets(text) + personal_data(text))
    for finding in sorted(findings, key=lambda f: f.start, reverse=True):
        text = text[:finding.start] + f"[{finding.kind}]" + text[finding.end:]
    return text


class RedactingFilter(logging.Filter):
    """Redacts each record's message before any handler writes it: add it to a handler, and
    no log file, console or log service receives a secret or personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


def measure(find, items: list[dict], kinds: set[str]) -> dict:
    """Precision and recall of `find` (text -> findings) on labelled items, counting only
    `kinds`: a finding is right when its kind and its exact text match a label."""
    found = expected = right = 0
    for item in items:
        got = {(f.kind, f.text) for f in find(item["text"]) if f.kind in kinds}
        want = {(label["kind"], label["text"]) for label in item["labels"]
                if label["kind"] in kinds}
        found, expected, right = found + len(got), expected + len(want), right + len(got & want)
    return {"found": found, "labelled": expected,
            "precision": round(right / found, 2) if found else None,
            "recall": round(right / expected, 2) if expected else None}
