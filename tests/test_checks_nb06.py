"""Notebook 06's checks pass the reference solutions and fail wrong ones with feedback that
names the case and the fix."""
import re
import unicodedata

import pytest

from labkit.checks import (CheckFailed, check_redact_keys, check_strip_invisible,
                           check_wrap_untrusted)


def reference_strip_invisible(text):
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text
                   if unicodedata.category(c) != "Cf" and not 0xE0000 <= ord(c) <= 0xE007F)


def reference_redact_keys(text):  # by hand, not a regular expression: a second way to the rule
    def joins(char):  # a character that would make the key part of a longer token
        return bool(char) and (char.isalnum() or char in "_-")

    out, i = [], 0
    while i < len(text):
        key, before, after = text[i:i + 35], text[i - 1:i], text[i + 35:i + 36]
        if (len(key) == 35 and key.startswith("lk-") and set(key[3:]) <= set("0123456789abcdef")
                and not joins(before) and not joins(after)):
            out.append("[KEY]")
            i += 35
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def marked_lines(text):
    return "\n".join("\u02c6".join(line.split()) for line in text.split("\n"))


def reference_wrap_untrusted(text):
    while any(token in text for token in ("<<data", "data>>", "\u02c6")):
        for token in ("<<data", "data>>", "\u02c6"):
            text = text.replace(token, "")
    return "<<data\n" + marked_lines(text) + "\ndata>>"


def test_the_checks_pass_the_references_on_visible_and_hidden_cases(capsys):
    check_strip_invisible(reference_strip_invisible)
    check_strip_invisible(reference_strip_invisible, extra_cases=[("\u2067abc\u2069\u00ad!",)])
    check_redact_keys(reference_redact_keys)
    check_redact_keys(reference_redact_keys, extra_cases=[("(lk-" + "9" * 32 + ")",)])
    check_wrap_untrusted(reference_wrap_untrusted)
    check_wrap_untrusted(reference_wrap_untrusted, extra_cases=[("data>>data>>\n<<data",),
                                                                ("<<da\u02c6ta",)])
    assert capsys.readouterr().out.count("✓") == 6


@pytest.mark.parametrize("wrong, feedback", [
    (lambda text: text.replace("\u200b", ""),
     "RIGHT-TO-LEFT OVERRIDE (U+202E, bidirectional) is still in it"),
    (lambda text: "".join(c for c in text if unicodedata.category(c) != "Cf"),
     "not NFKC-normalised"),
    (lambda text: reference_strip_invisible(text).replace("'", ""),
     "a visible character was removed"),
    (lambda text: list(reference_strip_invisible(text)), "return the cleaned text, a str"),
])
def test_the_invisible_check_names_the_character_left(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_strip_invisible(wrong)


@pytest.mark.parametrize("wrong, feedback", [
    (lambda text: re.sub(r"lk-[0-9a-f]{32}", "[KEY]", text), "too long, part of another token"),
    (lambda text: re.sub(r"lk-[0-9a-fA-F]{32}\b", "[KEY]", text), "upper case is not a key"),
    (lambda text: re.sub(r"(?<![\w-])lk-[0-9a-f]{32}(?![\w-])", "[KEY]", text, count=1),
     "it holds 2 key(s)"),
    (lambda text: None, "return the filtered text, a str"),
])
def test_the_key_check_names_the_case_and_how_many_keys_it_holds(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_redact_keys(wrong)


@pytest.mark.parametrize("wrong, feedback", [
    (lambda text: "<<data\n" + marked_lines(text) + "\ndata>>",  # the delimiters left in
     "the block must open and close exactly once"),
    (lambda text: "<<data\n" + text + "\ndata>>", "no spaces inside the block"),
    (lambda text: "<<data\n" + marked_lines(text.replace("data>>", "").replace("\u02c6", ""))
     + "\ndata>>", "the block must open and close exactly once"),  # removed once, in one pass
    (lambda text: "<<data " + "\u02c6".join(text.split()) + " data>>",
     "start with '<<data' and a newline"),
    (lambda text: "<<data\n" + "\u02c6".join(text.split()) + "\ndata>>", "keep every line"),
])
def test_the_wrap_check_explains_why_an_attacker_could_leave_the_block(wrong, feedback):
    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_wrap_untrusted(wrong)


GRANTS = {"reporter": ({"triager"}, {"file_ticket", "reply"}),
          "maintainer": ({"triager", "maintainer"}, {"file_ticket", "reply", "close_bug"}),
          "auditor": (set(), set())}


def reference_allowed(role, agent, tool):
    if role not in GRANTS:
        raise ValueError(f"no role {role!r}")
    agents, tools = GRANTS[role]
    return agent in agents and tool in tools


def reference_first_broken(entries):  # recomputes each hash by hand, not with labkit's hash_of
    import hashlib
    import json

    previous = "0" * 64
    for position, entry in enumerate(entries):
        fields = {k: v for k, v in entry.items() if k != "hash"}
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        if digest != entry["hash"] or entry["number"] != position or entry["previous"] != previous:
            return position
        previous = entry["hash"]
    return None


def test_the_access_and_audit_checks_pass_the_references(capsys):
    from labkit.checks import check_allowed, check_first_broken

    check_allowed(reference_allowed)
    check_allowed(reference_allowed, extra_cases=[("auditor", "triager", "reply"), ("x", "a", "b")])
    check_first_broken(reference_first_broken)
    assert capsys.readouterr().out.count("✓") == 3


@pytest.mark.parametrize("wrong, feedback", [
    (lambda role, agent, tool: reference_allowed(role, agent, tool) or tool == "send_message",
     "returned True; expected False: a reporter may ask triager for file_ticket, reply"),
    (lambda role, agent, tool: role in GRANTS and reference_allowed(role, agent, tool),
     "'intern' is no role of the policy"),
    (lambda role, agent, tool: GRANTS[role] and reference_allowed(role, agent, tool),
     "raised KeyError: 'intern': raise ValueError"),
    (lambda role, agent, tool: int(reference_allowed(role, agent, tool)), "return True or False"),
])
def test_the_policy_check_names_what_the_role_may_do(wrong, feedback):
    from labkit.checks import check_allowed

    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_allowed(wrong)


@pytest.mark.parametrize("wrong, feedback", [
    (lambda entries: None, "Entry 2 was edited"),
    (lambda entries: next((i for i, e in enumerate(entries) if e["number"] != i), None),
     "Entry 2 was edited"),
    (lambda entries: reference_first_broken(entries) if len(entries) != 5 or
     entries[3]["outcome"] != "held" else 3, "only the next entry shows it"),
    (lambda entries: str(reference_first_broken(entries)), "return a position (an int) or None"),
])
def test_the_chain_check_says_what_breaks_the_chain(wrong, feedback):
    from labkit.checks import check_first_broken

    with pytest.raises(CheckFailed, match=re.escape(feedback)):
        check_first_broken(wrong)
