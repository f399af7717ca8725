"""The pure rules of one-time codes and signed links: make, hash, sign, check.

A code is 8 digits (typed from a phone); the database keeps only an HMAC of it together with
what it is bound to, so a leaked table neither reveals a code nor lets one be tried against
another gate, round or person. A link token carries the code row's id and bindings with an
expiry, signed with the same key; it proves what the code proves, and either spends the row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

CODE_DIGITS = 8
TOKEN_SEPARATOR = "."


@dataclass(frozen=True)
class Binding:
    """What a code answers: one round of one subject of one incident, for one person."""

    incident_id: str
    subject: str
    round: int
    person: str

    def text(self) -> str:
        return f"{self.incident_id}|{self.subject}|{self.round}|{self.person}"


class Check(StrEnum):
    """The verdict on a presented code or link."""

    ok = "ok"
    wrong = "wrong"
    expired = "expired"
    used = "used"

    @property
    def reason(self) -> str:
        """Why it was refused, in words that carry no secret."""
        return {
            Check.ok: "",
            Check.wrong: "the code or link is wrong (or not for this person, question and round)",
            Check.expired: "the code or link has expired",
            Check.used: "the code or link was already used",
        }[self]


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(key: bytes, binding: Binding, code: str) -> str:
    """HMAC-SHA256 over the bindings and the code (hex, 64 characters)."""
    message = f"{binding.text()}|{code.strip()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def check_code(
    key: bytes,
    binding: Binding,
    code: str,
    stored_hash: str | None,
    *,
    expires_at: datetime | None,
    used_at: datetime | None,
    now: datetime,
) -> Check:
    """A code matches its row's hash for exactly these bindings, before expiry, once. A wrong
    code says nothing about the row (no `expired` or `used` hint for a guess)."""
    if stored_hash is None or expires_at is None:
        return Check.wrong
    if not hmac.compare_digest(code_hash(key, binding, code), stored_hash):
        return Check.wrong
    if used_at is not None:
        return Check.used
    if now >= expires_at:
        return Check.expired
    return Check.ok


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link(key: bytes, row_id: int, binding: Binding, expires_at: datetime) -> str:
    """A URL-safe token naming the code row, its bindings and expiry, HMAC-signed."""
    payload = {
        "id": row_id,
        "i": binding.incident_id,
        "s": binding.subject,
        "r": binding.round,
        "p": binding.person,
        "e": int(expires_at.timestamp()),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}{TOKEN_SEPARATOR}{signature}"


@dataclass(frozen=True)
class LinkClaim:
    """What a correctly signed token says (its expiry is checked against the row too)."""

    row_id: int
    binding: Binding
    expires_at: datetime


def read_link(key: bytes, token: str) -> LinkClaim | None:
    """The token's claim if its signature holds; None for anything forged or malformed."""
    body, _, signature = token.strip().partition(TOKEN_SEPARATOR)
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(_unb64(body))
        binding = Binding(str(data["i"]), str(data["s"]), int(data["r"]), str(data["p"]))
        return LinkClaim(int(data["id"]), binding, datetime.fromtimestamp(int(data["e"]), UTC))
    except (ValueError, KeyError, TypeError):
        return None


def is_link_token(proof: str) -> bool:
    """A code is digits; a link token has a signature after a dot."""
    return TOKEN_SEPARATOR in proof
