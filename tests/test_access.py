"""labkit.patterns.access: keys kept as hashes, rotated without a failed request, and revoked;
signed, expiring tokens; role-based checks at every call, with clear errors for bad policies."""
import pytest

import labkit
from labkit.llm.scripted import ScriptedModel
from labkit.observe import trace
from labkit.patterns import leaks
from labkit.patterns.access import ApiKeys, Denied, Grant, Roles, read_token, sign

SECRET = b"a test signing secret, never a real one"


def test_a_key_is_stored_only_as_its_hash_and_finds_its_owner():
    keys = ApiKeys()
    key = keys.issue("ci-bot")
    assert keys.owner_of(key, now=0) == "ci-bot"
    assert key not in repr(vars(keys))  # the store holds no key
    with pytest.raises(Denied, match="Unknown API key.") as denied:
        keys.owner_of(key[:-1] + "x", now=0)
    assert key[:-1] not in str(denied.value)  # a near miss is not echoed back


def test_rotation_keeps_the_old_key_for_its_grace_period_so_no_request_fails():
    keys = ApiKeys()
    old = keys.issue("triager")
    new = keys.rotate("triager", now=100, grace_s=60)
    for now in range(100, 160, 5):  # callers still on the old key, while they move
        assert keys.owner_of(old, now) == keys.owner_of(new, now) == "triager"
    with pytest.raises(Denied, match="rotated out: use the new one"):
        keys.owner_of(old, now=160)
    assert keys.owner_of(new, now=10_000) == "triager"


def test_revoking_ends_every_key_of_an_owner_at_once():
    keys = ApiKeys()
    first, second = keys.issue("leaky"), keys.issue("leaky")
    assert keys.revoke("leaky") == 2
    for key in (first, second):
        with pytest.raises(Denied, match="was revoked"):
            keys.owner_of(key, now=0)
    with pytest.raises(ValueError, match="no key to rotate"):
        keys.rotate("leaky", now=0, grace_s=10)


def test_a_token_is_read_back_until_it_expires_and_never_if_changed():
    token = sign({"sub": "ana", "role": "maintainer"}, SECRET, expires_at=100)
    assert read_token(token, SECRET, now=99)["role"] == "maintainer"
    with pytest.raises(Denied, match="expired 20 s ago"):
        read_token(token, SECRET, now=120)
    body, _, signature = token.partition(".")
    promoted = sign({"sub": "ana", "role": "admin"}, b"another key", 100).partition(".")[0]
    for bad in (promoted + "." + signature, body + ".", body + "." + signature[::-1]):
        with pytest.raises(Denied, match="signature is wrong"):
            read_token(bad, SECRET, now=0)
    with pytest.raises(Denied, match="signature is wrong"):
        read_token(token, b"another key", now=0)


ROLES = Roles(grants={
    "reporter": Grant(agents=frozenset({"triager"}), tools=frozenset({"file_ticket"}),
                      data=frozenset({"bug reports"})),
    "maintainer": Grant(agents=frozenset({"triager", "maintainer"}),
                        tools=frozenset({"file_ticket", "close_bug"}),
                        data=frozenset({"bug reports", "customer records"})),
}, tools=frozenset({"file_ticket", "close_bug", "send_message"}))


@pytest.mark.parametrize("role, call, lacking", [
    ("reporter", dict(agent="triager", tool="file_ticket", data="bug reports"), None),
    ("reporter", dict(agent="maintainer"), "the agent 'maintainer'"),
    ("reporter", dict(agent="triager", tool="close_bug"), "the tool 'close_bug'"),
    ("reporter", dict(agent="triager", data="customer records"), "the data 'customer records'"),
    ("maintainer", dict(agent="maintainer", tool="close_bug", data="customer records"), None),
    ("maintainer", dict(agent="triager", tool="send_message"), "the tool 'send_message'"),
])
def test_roles_allow_or_deny_each_call_naming_what_is_lacking(role, call, lacking):
    if lacking is None:
        ROLES.check(role, **call)
    else:
        with pytest.raises(Denied, match=f"Role '{role}' may not use {lacking}"):
            ROLES.check(role, **call)


def test_bad_policies_are_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="There is no role 'intern'. The roles: maintainer"):
        ROLES.check("intern", agent="triager")
    with pytest.raises(ValueError, match="granted delete_repo, which no agent has"):
        Roles(grants={"x": Grant(tools=frozenset({"delete_repo"}))}, tools=frozenset({"reply"}))


def test_a_key_is_redacted_wherever_it_could_leak(unit_session, redacting_log):
    """Logs (the redacting filter), exceptions (Denied never echoes a key), traces (no
    content), cassettes (tests/test_repo_hygiene.py scans them for this shape)."""
    keys = ApiKeys()
    key = keys.issue("triager")
    assert leaks.redact(f"use {key} here") == "use [SECRET] here"
    log, written = redacting_log
    log.error("request with key %s", key)
    assert written.getvalue() == "request with key [SECRET]\n"
    keys.revoke("triager")
    with pytest.raises(Denied) as denied:
        keys.owner_of(key, now=0)
    assert key not in str(denied.value)
    with trace.Trace() as run, labkit.override(client=ScriptedModel(["ok"])):
        labkit.chat(f"my key is {key}", agent="triager")
    assert key not in run.to_json()
