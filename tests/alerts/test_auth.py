"""Webhook authentication: valid requests pass; tampering, wrong secrets, stale or
malformed headers fail with False and never raise."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from irp.alerts.auth import (
    check_basic,
    check_bearer,
    check_grafana_signature,
    check_standard_webhooks,
    header,
    sign_grafana,
    sign_standard_webhooks,
    standard_webhooks_key,
    verify_standard_webhooks,
)

BODY = b'{"receiver":"irp","status":"firing","alerts":[{"status":"firing"}]}'
NOW = datetime(2025, 11, 3, 8, 15, 30, tzinfo=UTC)
TS = int(NOW.timestamp())
SECRET = "whsec_" + base64.b64encode(b"irp-test-signing-key-32-bytes-ok").decode()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- bearer and basic ---------------------------------------------------------------------


def test_bearer() -> None:
    assert check_bearer("Bearer s3cret-token", "s3cret-token")
    assert check_bearer("bearer   s3cret-token ", "s3cret-token")
    assert not check_bearer("Bearer s3cret-tokeN", "s3cret-token")
    assert not check_bearer("Bearer s3cret-token-longer", "s3cret-token")
    assert not check_bearer("Token s3cret-token", "s3cret-token")
    assert not check_bearer(basic("s3cret-token", ""), "s3cret-token")


@pytest.mark.parametrize("value", [None, "", "Bearer", "Bearer ", "Bearer ü-tok\udcff", "s3cret"])
def test_bearer_malformed(value: str | None) -> None:
    assert not check_bearer(value, "s3cret")


def test_bearer_empty_configured_token_never_matches() -> None:
    assert not check_bearer("Bearer ", "")
    assert not check_bearer("Bearer x", "")


def test_basic() -> None:
    assert check_basic(basic("alertmanager", "pa:ss"), "alertmanager", "pa:ss")
    assert check_basic(basic("am", "päss"), "am", "päss")
    assert not check_basic(basic("alertmanager", "wrong"), "alertmanager", "pa:ss")
    assert not check_basic(basic("grafana", "pa:ss"), "alertmanager", "pa:ss")
    assert not check_basic(basic("", ""), "", "")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic ÿÿÿÿ",
        "Bearer " + base64.b64encode(b"am:pw").decode(),
    ],
)
def test_basic_malformed(value: str | None) -> None:
    assert not check_basic(value, "am", "pw")


# --- Standard Webhooks --------------------------------------------------------------------


def test_standard_webhooks_reference_vector() -> None:
    """The published test vector of the Standard Webhooks specification."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signed = sign_standard_webhooks(
        secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signed["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    now = datetime.fromtimestamp(1614265330, UTC)
    assert check_standard_webhooks(signed, b'{"test": 2432232314}', secret, now=now)


WHSEC = st.binary(min_size=1, max_size=40).map(
    lambda key: "whsec_" + base64.b64encode(key).decode()
)
MSG_ID = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30)


TEXT_BODY = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80).map(str.encode)


@settings(max_examples=200, deadline=None)
@given(secret=WHSEC, msg_id=MSG_ID, body=TEXT_BODY)
def test_standard_webhooks_agrees_with_the_reference_library(
    secret: str, msg_id: str, body: bytes
) -> None:
    """irp's verifier against `standardwebhooks` (the spec's own Python package): each
    accepts what the other signs, and neither accepts a changed body. (The library signs
    text, so bodies here are UTF-8; irp signs bytes, see the next test.)"""
    reference = standardwebhooks.Webhook(secret)
    now = datetime.now(UTC).replace(microsecond=0)
    theirs = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": reference.sign(msg_id, now, body.decode()),
    }
    assert verify_standard_webhooks(theirs, body, secret) is not None
    ours = sign_standard_webhooks(secret, msg_id, int(now.timestamp()), body)
    assert ours == theirs
    reference.verify(body, ours, json_parse=False)  # raises if it disagrees
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        reference.verify(body + b"x", ours, json_parse=False)
    assert verify_standard_webhooks(theirs, body + b"x", secret) is None


def test_standard_webhooks_cases_the_reference_library_refuses() -> None:
    """Where irp keeps its own verifier (see `verify_standard_webhooks`): a valid signature
    after a malformed entry, and a signed body that is not UTF-8, are accepted here; the
    library raises a bare ValueError / UnicodeDecodeError for them."""
    good = sign_standard_webhooks(SECRET, "msg_1", TS, BODY)
    listed = {**good, "webhook-signature": f"garbage  {good['webhook-signature']}"}
    assert check_standard_webhooks(listed, BODY, SECRET, now=NOW)
    not_utf8 = b"\xff\xfe alert"
    signed = sign_standard_webhooks(SECRET, "msg_2", TS, not_utf8)
    assert check_standard_webhooks(signed, not_utf8, SECRET, now=NOW)
    now_signed = sign_standard_webhooks(SECRET, "msg_3", int(datetime.now(UTC).timestamp()), BODY)
    with pytest.raises(ValueError):
        standardwebhooks.Webhook(SECRET).verify(
            BODY, {**now_signed, "webhook-signature": f"garbage {now_signed['webhook-signature']}"}
        )


def test_standard_webhooks_valid_and_case_insensitive() -> None:
    headers = sign_standard_webhooks(SECRET, "msg_1", TS, BODY)
    assert check_standard_webhooks(headers, BODY, SECRET, now=NOW)
    upper = {k.upper(): v for k, v in headers.items()}
    assert check_standard_webhooks(upper, BODY, SECRET, now=NOW)


def test_standard_webhooks_default_now_is_the_clock() -> None:
    ts = int(datetime.now(UTC).timestamp())
    assert check_standard_webhooks(sign_standard_webhooks(SECRET, "m", ts, BODY), BODY, SECRET)
    old = sign_standard_webhooks(SECRET, "m", ts - 3600, BODY)
    assert not check_standard_webhooks(old, BODY, SECRET)


def test_standard_webhooks_tampering_and_wrong_secret() -> None:
    headers = sign_standard_webhooks(SECRET, "msg_1", TS, BODY)
    assert not check_standard_webhooks(headers, BODY + b" ", SECRET, now=NOW)
    assert not check_standard_webhooks(headers, BODY.replace(b"firing", b"resolv"), SECRET, now=NOW)
    other = "whsec_" + base64.b64encode(b"another-key").decode()
    assert not check_standard_webhooks(headers, BODY, other, now=NOW)
    assert not check_standard_webhooks(
        dict(headers, **{"webhook-id": "msg_2"}), BODY, SECRET, now=NOW
    )
    later = dict(headers, **{"webhook-timestamp": str(TS + 1)})
    assert not check_standard_webhooks(later, BODY, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("offset", "ok"), [(-300, True), (300, True), (-301, False), (301, False), (-86400, False)]
)
def test_standard_webhooks_timestamp_window(offset: int, ok: bool) -> None:
    headers = sign_standard_webhooks(SECRET, "msg_1", TS + offset, BODY)
    assert check_standard_webhooks(headers, BODY, SECRET, now=NOW) is ok


def test_standard_webhooks_custom_tolerance_and_naive_now() -> None:
    headers = sign_standard_webhooks(SECRET, "msg_1", TS - 30, BODY)
    assert not check_standard_webhooks(headers, BODY, SECRET, now=NOW, tolerance_s=10)
    assert check_standard_webhooks(headers, BODY, SECRET, now=NOW.replace(tzinfo=None))


def test_standard_webhooks_multiple_signatures() -> None:
    good = sign_standard_webhooks(SECRET, "msg_1", TS, BODY)["webhook-signature"]
    old_key = "whsec_" + base64.b64encode(b"rotated-out-key").decode()
    stale = sign_standard_webhooks(old_key, "msg_1", TS, BODY)["webhook-signature"]
    base = {"webhook-id": "msg_1", "webhook-timestamp": str(TS)}
    for value in (f"{stale} {good}", f"{good} {stale}", f"v1a,AAAA {good}", f"  {stale}   {good} "):
        assert check_standard_webhooks({**base, "webhook-signature": value}, BODY, SECRET, now=NOW)
    only_bad = {**base, "webhook-signature": f"{stale} v2,{good[3:]}"}
    assert not check_standard_webhooks(only_bad, BODY, SECRET, now=NOW)


def test_standard_webhooks_raw_secret() -> None:
    headers = sign_standard_webhooks("plain-shared-secret", "msg_1", TS, BODY)
    assert check_standard_webhooks(headers, BODY, "plain-shared-secret", now=NOW)
    assert standard_webhooks_key("plain-shared-secret") == b"plain-shared-secret"
    assert standard_webhooks_key(SECRET) == b"irp-test-signing-key-32-bytes-ok"
    # whsec_ + base64 of the same bytes is the same key; the whsec_ text itself is not
    same_key = "whsec_" + base64.b64encode(b"plain-shared-secret").decode()
    assert check_standard_webhooks(headers, BODY, same_key, now=NOW)
    text_key_mac = hmac.new(same_key.encode(), f"m.{TS}.".encode() + BODY, hashlib.sha256)
    as_text = {
        "webhook-id": "m",
        "webhook-timestamp": str(TS),
        "webhook-signature": "v1," + base64.b64encode(text_key_mac.digest()).decode(),
    }
    assert not check_standard_webhooks(as_text, BODY, same_key, now=NOW)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not*base64", "whsec_abc"])
def test_standard_webhooks_bad_configured_secret(secret: str) -> None:
    headers = sign_standard_webhooks(SECRET, "msg_1", TS, BODY)
    assert not check_standard_webhooks(headers, BODY, secret, now=NOW)
    with pytest.raises(ValueError):
        standard_webhooks_key(secret)


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-id": None},
        {"webhook-id": ""},
        {"webhook-timestamp": None},
        {"webhook-timestamp": ""},
        {"webhook-timestamp": "abc"},
        {"webhook-timestamp": "-5"},
        {"webhook-timestamp": f"{TS}.0"},
        {"webhook-timestamp": f" {TS}"},
        {"webhook-timestamp": "١٧٦٢١٥٧٧٣٠"},
        {"webhook-timestamp": "9" * 40},
        {"webhook-signature": None},
        {"webhook-signature": ""},
        {"webhook-signature": "v1"},
        {"webhook-signature": "v1,"},
        {"webhook-signature": "v1,not base64 at all"},
        {"webhook-signature": "garbage"},
        {"webhook-signature": "v1,\udcff"},
    ],
)
def test_standard_webhooks_malformed_headers(change: dict[str, str | None]) -> None:
    headers: dict[str, str] = dict(sign_standard_webhooks(SECRET, "msg_1", TS, BODY))
    for key, value in change.items():
        if value is None:
            del headers[key]
        else:
            headers[key] = value
    assert not check_standard_webhooks(headers, BODY, SECRET, now=NOW)


# --- Grafana ------------------------------------------------------------------------------


def test_grafana_body_only() -> None:
    headers = sign_grafana("grafana-hmac", BODY)
    assert set(headers) == {"X-Grafana-Alerting-Signature"}
    assert len(headers["X-Grafana-Alerting-Signature"]) == 64
    assert check_grafana_signature(headers, BODY, "grafana-hmac", now=NOW)
    lower = {k.lower(): v for k, v in headers.items()}
    assert check_grafana_signature(lower, BODY, "grafana-hmac")
    upper_hex = {k: v.upper() for k, v in headers.items()}
    assert check_grafana_signature(upper_hex, BODY, "grafana-hmac")
    assert not check_grafana_signature(headers, BODY, "grafana-hmac", require_timestamp=True)


def test_grafana_with_timestamp() -> None:
    headers = sign_grafana("grafana-hmac", BODY, timestamp=TS)
    assert headers["X-Grafana-Alerting-Signature-Timestamp"] == str(TS)
    assert check_grafana_signature(headers, BODY, "grafana-hmac", now=NOW, require_timestamp=True)
    late = NOW + timedelta(seconds=301)
    assert not check_grafana_signature(headers, BODY, "grafana-hmac", now=late)
    # dropping the timestamp header does not turn it into a body-only signature
    sig_only = {"X-Grafana-Alerting-Signature": headers["X-Grafana-Alerting-Signature"]}
    assert not check_grafana_signature(sig_only, BODY, "grafana-hmac", now=NOW)
    moved = dict(headers, **{"X-Grafana-Alerting-Signature-Timestamp": str(TS + 1)})
    assert not check_grafana_signature(moved, BODY, "grafana-hmac", now=NOW)


def test_grafana_tampering_and_wrong_secret() -> None:
    headers = sign_grafana("grafana-hmac", BODY, timestamp=TS)
    assert not check_grafana_signature(headers, BODY + b"\n", "grafana-hmac", now=NOW)
    assert not check_grafana_signature(headers, BODY, "grafana-hmac2", now=NOW)
    assert not check_grafana_signature(headers, BODY, "", now=NOW)


def test_grafana_custom_header_names() -> None:
    headers = sign_grafana(
        "k", BODY, timestamp=TS, signature_header="X-Sig", timestamp_header="X-Sig-Time"
    )
    assert set(headers) == {"X-Sig", "X-Sig-Time"}
    assert check_grafana_signature(
        headers, BODY, "k", now=NOW, signature_header="X-Sig", timestamp_header="X-Sig-Time"
    )
    assert not check_grafana_signature(headers, BODY, "k", now=NOW)


@pytest.mark.parametrize(
    "signature",
    ["", "sha256=" + "a" * 64, "a" * 63, "g" * 64, "a" * 65, "\udcff" * 64, "v1,abc"],
)
def test_grafana_malformed_signature(signature: str) -> None:
    headers = {"X-Grafana-Alerting-Signature": signature}
    assert not check_grafana_signature(headers, BODY, "k", now=NOW)


@pytest.mark.parametrize("timestamp", ["", "soon", "-1", f"{TS}.5", "1" * 30])
def test_grafana_malformed_timestamp(timestamp: str) -> None:
    headers = sign_grafana("k", BODY, timestamp=TS)
    headers["X-Grafana-Alerting-Signature-Timestamp"] = timestamp
    assert not check_grafana_signature(headers, BODY, "k", now=NOW)


# --- never raises -------------------------------------------------------------------------

HEADER_NAMES = st.sampled_from(
    [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "X-Grafana-Alerting-Signature",
        "x-grafana-alerting-signature-timestamp",
        "authorization",
    ]
) | st.text(max_size=10)
ANY_TEXT = st.text(max_size=40) | st.sampled_from(
    ["\udcff", "v1,", f"{TS}", "Basic Og==", "Bearer "]
)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(HEADER_NAMES, ANY_TEXT, max_size=5),
    body=st.binary(max_size=64),
    secret=ANY_TEXT,
)
def test_checks_never_raise(headers: dict[str, str], body: bytes, secret: str) -> None:
    auth = header(headers, "authorization")
    assert check_bearer(auth, secret) in (True, False)
    assert check_basic(auth, secret, secret) in (True, False)
    assert check_standard_webhooks(headers, body, secret, now=NOW) in (True, False)
    assert check_grafana_signature(headers, body, secret, now=NOW) in (True, False)


def test_header_lookup_ignores_non_string_values() -> None:
    weird: dict[str, object] = {"Webhook-Id": 5, "webhook-timestamp": None}
    assert header(weird, "webhook-id") is None  # type: ignore[arg-type]
    assert header({"Webhook-Id": "m"}, "webhook-id") == "m"
