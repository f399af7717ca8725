"""Authenticate alert webhook requests: Bearer, Basic, Standard Webhooks, Grafana HMAC.

Every check compares in constant time (`hmac.compare_digest`), signs the RAW body
bytes (re-serialised JSON would not match), and answers False for anything
malformed instead of raising: the caller turns False into 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

WHSEC_PREFIX = "whsec_"
TOLERANCE_S = 300
GRAFANA_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
# Grafana has no default timestamp header; this is the name its provisioning docs use.
GRAFANA_TIMESTAMP_HEADER = "X-Grafana-Alerting-Signature-Timestamp"

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(_bytes(a), _bytes(b))


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that also works on a plain dict; non-strings count as absent."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next(
            (v for k, v in headers.items() if isinstance(k, str) and k.lower() == wanted), None
        )
    return value if isinstance(value, str) else None


def _credentials(authorization: str | None, scheme: str) -> str | None:
    if not isinstance(authorization, str):
        return None
    given, _, rest = authorization.strip().partition(" ")
    if given.lower() != scheme:
        return None
    return rest.strip() or None


def _within(timestamp: str | None, now: datetime | None, tolerance_s: int) -> bool:
    if timestamp is None or not _UNIX_SECONDS.fullmatch(timestamp):
        return False
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return abs(moment.timestamp() - int(timestamp)) <= tolerance_s


def check_bearer(authorization_header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`; an empty configured token never matches."""
    given = _credentials(authorization_header, "bearer")
    return bool(token) and given is not None and _equal(given, token)


def check_basic(authorization_header: str | None, username: str, password: str) -> bool:
    """`Authorization: Basic base64(user:pass)`, as Alertmanager's basic_auth sends."""
    encoded = _credentials(authorization_header, "basic")
    if encoded is None or not (username or password):
        return False
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    user, sep, secret = decoded.partition(":")
    user_ok = _equal(user, username)
    password_ok = _equal(secret, password)
    return bool(sep) and user_ok and password_ok


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key: base64 after `whsec_`, else the raw UTF-8. Raises ValueError if bad.

    Call it once at startup to reject a mistyped secret early.
    """
    if not secret:
        raise ValueError("webhook secret is empty")
    if secret.startswith(WHSEC_PREFIX):
        try:
            key = base64.b64decode(secret[len(WHSEC_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("webhook secret: the part after whsec_ is not base64") from None
        if not key:
            raise ValueError("webhook secret: the part after whsec_ is empty")
        return key
    return _bytes(secret)


def _standard_webhooks_signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = _bytes(f"{msg_id}.{timestamp}.") + bytes(body)
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign_standard_webhooks(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for a body (for tests and benchmarks)."""
    key = standard_webhooks_key(secret)
    signature = _standard_webhooks_signature(key, msg_id, str(timestamp), body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
    }


@dataclass(frozen=True)
class SignedMessage:
    """A verified Standard Webhooks message: its id may be replayed until `replayable_until`
    (its timestamp + tolerance), so the caller remembers the id that long."""

    message_id: str
    replayable_until: datetime


def verify_standard_webhooks(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    now: datetime | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> SignedMessage | None:
    """Standard Webhooks: HMAC-SHA256 of `{id}.{timestamp}.{body}`, base64, in a
    space-separated list of `v1,<sig>`; the timestamp must be within tolerance.

    Written here rather than with the `standardwebhooks` package (1.1, the spec's reference;
    tests check this code against it): its `Webhook.verify` raises ValueError or
    binascii.Error, not its own error, on a malformed list entry, so a valid signature after
    a double space or an unknown entry is refused; it decodes the body as UTF-8 (a signed
    non-UTF-8 body fails); it reads the timestamp with `float()` (`" 1762157730"` and
    `"1762157730e0"` pass); it base64-decodes a secret without `whsec_` where irp uses the raw text (the
    secret Grafana's HMAC shares); and its clock and window cannot be set, while the replay
    window needs the timestamp it checked.
    """
    try:
        key = standard_webhooks_key(secret)
    except ValueError:
        return None
    msg_id = header(headers, "webhook-id")
    timestamp = header(headers, "webhook-timestamp")
    signatures = header(headers, "webhook-signature")
    if not msg_id or timestamp is None or not signatures:
        return None
    if not _within(timestamp, now, tolerance_s):
        return None
    expected = _standard_webhooks_signature(key, msg_id, timestamp, body)
    matched = False
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and _equal(value, expected):
            matched = True
    if not matched:
        return None
    until = datetime.fromtimestamp(int(timestamp) + tolerance_s, UTC)
    return SignedMessage(msg_id, until)


def check_standard_webhooks(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    now: datetime | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> bool:
    """True when `verify_standard_webhooks` accepts the request (replays not considered)."""
    signed = verify_standard_webhooks(headers, body, secret, now=now, tolerance_s=tolerance_s)
    return signed is not None


def _grafana_signature(secret: str, body: bytes, timestamp: str | None) -> str:
    signed = bytes(body) if timestamp is None else _bytes(f"{timestamp}:") + bytes(body)
    return hmac.new(_bytes(secret), signed, hashlib.sha256).hexdigest()


def sign_grafana(
    secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    signature_header: str = GRAFANA_SIGNATURE_HEADER,
    timestamp_header: str = GRAFANA_TIMESTAMP_HEADER,
) -> dict[str, str]:
    """Headers as Grafana's HMAC signer sets them (for tests and benchmarks)."""
    ts = None if timestamp is None else str(timestamp)
    headers = {signature_header: _grafana_signature(secret, body, ts)}
    if ts is not None:
        headers[timestamp_header] = ts
    return headers


def check_grafana_signature(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    now: datetime | None = None,
    tolerance_s: int = TOLERANCE_S,
    signature_header: str = GRAFANA_SIGNATURE_HEADER,
    timestamp_header: str = GRAFANA_TIMESTAMP_HEADER,
    require_timestamp: bool = False,
) -> bool:
    """Grafana's webhook HMAC: lowercase hex HMAC-SHA256 of the body, or of
    `{unix seconds}:{body}` when the timestamp header is present (then the window applies).

    Both header names are configurable in Grafana's contact point (hmacConfig), so
    they are parameters here; `require_timestamp` refuses unsigned-time requests,
    which could be replayed.
    """
    if not secret:
        return False
    given = header(headers, signature_header)
    if given is None or not _HEX.fullmatch(given.strip()):
        return False
    timestamp = header(headers, timestamp_header)
    if timestamp is None:
        if require_timestamp:
            return False
    elif not _within(timestamp, now, tolerance_s):
        return False
    return _equal(given.strip().lower(), _grafana_signature(secret, body, timestamp))
