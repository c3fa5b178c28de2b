"""Who may call an agent, and what it may do (OWASP LLM06 excessive agency; agentic T3, T9).

ApiKeys  keys shown once, stored only as SHA-256 hashes, compared in constant time; revoked;
         rotated with a grace period, so no request fails while callers move to the new key
tokens   signed (HMAC-SHA256), expiring claims: `sign` and `read_token`, with the clock passed in
Roles    role -> the agents, tools and data it may use, checked at every call

A random key of 128 bits needs no slow password hash: nothing can guess it, and its hash
leaks nothing. A password would need one (hashlib.scrypt, argon2).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field


class Denied(PermissionError):
    """A caller without the right, named with what it lacked."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Issued:
    owner: str
    digest: str
    expires_at: float | None = None  # set when the key is rotated out
    revoked: bool = False


class ApiKeys:
    """The store of keys: it never holds a key, only its hash."""

    def __init__(self, prefix: str = "lk-") -> None:
        self.prefix, self._issued = prefix, []

    def issue(self, owner: str) -> str:
        """A new key for `owner`: return it to the owner once; only its hash is kept."""
        key = self.prefix + secrets.token_hex(16)
        self._issued.append(Issued(owner, _digest(key)))
        return key

    def owner_of(self, key: str, now: float) -> str:
        """The key's owner, or Denied. Every stored hash is compared (in constant time), so
        how long the check takes says nothing about which key nearly matched."""
        digest, found = _digest(key), None
        for issued in self._issued:
            if hmac.compare_digest(digest, issued.digest):
                found = issued
        if found is None:
            raise Denied("Unknown API key.")  # never echo the key: it may be a real one, mistyped
        if found.revoked:
            raise Denied(f"This key of {found.owner!r} was revoked: ask for a new one.")
        if found.expires_at is not None and now >= found.expires_at:
            raise Denied(f"This key of {found.owner!r} was rotated out: use the new one.")
        return found.owner

    def rotate(self, owner: str, now: float, grace_s: float) -> str:
        """A new key for `owner`; the old ones keep working for `grace_s` seconds more."""
        live = [i for i in self._issued if i.owner == owner and not i.revoked]
        if not live:
            raise ValueError(f"{owner!r} has no key to rotate: issue one first.")
        for issued in live:
            if issued.expires_at is None or issued.expires_at > now + grace_s:
                issued.expires_at = now + grace_s
        return self.issue(owner)

    def stored(self) -> list[dict]:
        """What the store holds, as a table: owners, the start of each hash, and each key's
        state. Never a key: there is none here to show."""
        return [{"owner": i.owner, "sha256": i.digest[:16] + "...", "expires_at": i.expires_at,
                 "revoked": i.revoked} for i in self._issued]

    def revoke(self, owner: str) -> int:
        """Revoke every key of `owner` at once (a leak); how many there were."""
        mine = [i for i in self._issued if i.owner == owner and not i.revoked]
        for issued in mine:
            issued.revoked = True
        return len(mine)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict, secret: bytes, expires_at: float) -> str:
    """A token carrying `claims` until `expires_at`: readable by anyone, forged by no one
    without `secret`."""
    body = _b64(json.dumps({**claims, "exp": expires_at}, sort_keys=True).encode())
    return body + "." + _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def read_token(token: str, secret: bytes, now: float) -> dict:
    """The token's claims if its signature is right and it has not expired; else Denied."""
    body, _, signature = token.partition(".")
    expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        raise Denied("The token's signature is wrong: it was changed, or signed with another key.")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if now >= claims["exp"]:
        raise Denied(f"The token expired {now - claims['exp']:.0f} s ago: sign in again.")
    return claims


@dataclass(frozen=True)
class Grant:
    agents: frozenset[str] = frozenset()
    tools: frozenset[str] = frozenset()
    data: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Roles:
    """Role-based access: each role's grant, checked on every call (least privilege)."""
    grants: dict[str, Grant] = field(default_factory=dict)
    tools: frozenset[str] = frozenset()  # every tool there is

    def __post_init__(self):
        for role, grant in self.grants.items():
            unknown = set(grant.tools) - set(self.tools)
            if unknown:
                raise ValueError(f"Role {role!r} is granted {', '.join(sorted(unknown))}, which "
                                 f"no agent has. The tools: {', '.join(sorted(self.tools))}.")

    def check(self, role: str, *, agent: str, tool: str | None = None,
              data: str | None = None) -> None:
        """Nothing when `role` may ask `agent` to use `tool` on `data`; else Denied, naming
        what the role lacks. An unknown role is a mistake in the caller: ValueError."""
        if role not in self.grants:
            raise ValueError(f"There is no role {role!r}. The roles: "
                             f"{', '.join(sorted(self.grants))}.")
        grant = self.grants[role]
        for kind, wanted, allowed in (("agent", agent, grant.agents), ("tool", tool, grant.tools),
                                      ("data", data, grant.data)):
            if wanted is not None and wanted not in allowed:
                raise Denied(f"Role {role!r} may not use the {kind} {wanted!r}.")
