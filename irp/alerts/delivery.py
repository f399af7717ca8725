"""One delivery (a request body) -> the alerts to store, plus what the delivery says about them.

Alertmanager, Grafana and CloudEvents endpoints are strict: a body that is not their format
is a 422 naming the field. CloudEvents arrive in any of the HTTP binding's three modes:
structured (`application/cloudevents+json`), batch (`application/cloudevents-batch+json`) and
binary (attributes in `ce-*` headers, the body is the event's data). `/alerts/generic` keeps the docs' promise "stored, never
dropped": irp's own format, the formats recognised by shape (Suricata EVE, Wazuh, Tencent
Cloud, Aliyun CloudMonitor), and anything else is stored unmapped for a person to read, the
answer naming what was not understood. A JSON array holds one such body per item, as log
shippers batch them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from cloudevents.core.bindings.http import HTTPMessage, from_binary
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat

from irp.alerts.cloud import is_aliyun, is_tencent, parse_aliyun, parse_tencent
from irp.alerts.parsers import (
    NAME_MAX,
    PARSERS,
    SUMMARY_MAX,
    AlertParseError,
    ParsedAlert,
    _json_type,
    make_dedup_key,
    parse_cloudevents,
    parse_generic,
)
from irp.alerts.security import is_suricata, is_wazuh, parse_suricata, parse_wazuh

CE_STRUCTURED = "application/cloudevents+json"
CE_BATCH = "application/cloudevents-batch+json"
CE_PREFIX = "ce-"
# The required context attributes, as binary mode's headers.
CE_REQUIRED_HEADERS = ("ce-specversion", "ce-id", "ce-source", "ce-type")
UNRECOGNISED_NAME = "unrecognised alert body"
# Where a body in no known format most likely says what it is about.
NAME_KEYS = (
    "title",
    "alertname",
    "alertName",
    "alarmName",
    "name",
    "summary",
    "subject",
    "message",
    "description",
    "event",
    "type",
)
RECOGNISED: list[
    tuple[str, Callable[[dict[str, Any]], bool], Callable[[Any], list[ParsedAlert]]]
] = [
    ("Suricata EVE", is_suricata, parse_suricata),
    ("Wazuh", is_wazuh, parse_wazuh),
    ("Tencent Cloud", is_tencent, parse_tencent),
    ("Aliyun CloudMonitor", is_aliyun, parse_aliyun),
]


class HeaderError(AlertParseError):
    """A request header that is missing or malformed (a 400 naming the header)."""


@dataclass(frozen=True)
class Note:
    """Something a stored body did not say clearly; `field` is a dotted path."""

    field: str
    detail: str


@dataclass(frozen=True)
class Delivery:
    """The alerts of one request, and Alertmanager's count of alerts it left out."""

    alerts: list[ParsedAlert]
    truncated: int = 0
    group_key: str | None = None
    notes: list[Note] = field(default_factory=list)


def read_delivery(
    source: str, body: Any, content_type: str = "", headers: Mapping[str, str] | None = None
) -> Delivery:
    """Parse a decoded body sent to `/alerts/<source>`; raises AlertParseError (a 422), or
    HeaderError (a 400) for a CloudEvent's malformed `ce-*` header."""
    if source == "generic":
        return read_generic(body)
    if source == "cloudevents":
        return Delivery(read_cloudevents(body, content_type, headers or {}))
    alerts = PARSERS[source](body)
    if source in ("alertmanager", "grafana"):
        truncated = body.get("truncatedAlerts") or 0
        group_key = body.get("groupKey")
        return Delivery(alerts, truncated, group_key if isinstance(group_key, str) else None)
    return Delivery(alerts)


def is_binary_cloudevent(content_type: str, headers: Mapping[str, str]) -> bool:
    """Binary mode: a `ce-*` header on a request whose Content-Type is not one of the
    CloudEvents formats (the HTTP binding lets the content type decide, so a structured
    event with stray `ce-*` headers stays structured)."""
    if content_type in (CE_STRUCTURED, CE_BATCH):
        return False
    return any(name.lower().startswith(CE_PREFIX) for name in headers)


def read_cloudevents(body: Any, content_type: str, headers: Mapping[str, str]) -> list[ParsedAlert]:
    """One event (structured or binary mode) or a batch of structured events."""
    if content_type == CE_BATCH:
        return read_cloudevent_batch(body)
    if is_binary_cloudevent(content_type, headers):
        return read_binary_cloudevent(headers, content_type, body)
    return parse_cloudevents(body)


def read_cloudevent_batch(body: Any) -> list[ParsedAlert]:
    """A JSON batch: an array of structured events, parsed with irp's structured reader.

    The cloudevents SDK (2.2) has no batch format, and its structured reader re-parses the
    raw bytes with plain `json.loads` (the NUL and lone-surrogate handling of
    `storable.decode_json` would be lost) and invents an `id` when one is missing (a
    retry would then store a second alert), so each item goes through `parse_cloudevents`
    and errors name the item, as `[2].id`.
    """
    if not isinstance(body, list):
        raise AlertParseError("body", f"a batch must be a JSON array, not {_json_type(body)}")
    if not body:
        raise AlertParseError("body", "an empty batch holds no event")
    alerts: list[ParsedAlert] = []
    for index, item in enumerate(body):
        try:
            alerts.extend(parse_cloudevents(item))
        except AlertParseError as exc:
            raise AlertParseError(_within(f"[{index}]", exc.field), exc.reason) from None
    return alerts


def read_binary_cloudevent(
    headers: Mapping[str, str], content_type: str, data: Any
) -> list[ParsedAlert]:
    """Binary mode, read with the cloudevents SDK's HTTP binding: it maps `ce-*` headers to
    attributes, percent-decodes their values (HTTP binding 3.1.3.2) and validates them.

    The SDK fills in a missing `specversion`, `id` or `time` (a new id per retry would
    defeat dedup on source + id), so the required headers are checked first and an absent
    `ce-time` stays absent (a present one keeps the sender's text). The event then goes through the structured reader as the
    equivalent structured body: both modes give the same alert and dedup key, and that body
    is what is stored as the alert's raw form. Errors name the header (`ce-time`); a header
    that decodes to NUL is refused, as no raw copy of the headers is kept to restore it.
    """
    ce_headers = {k.lower(): v for k, v in headers.items() if k.lower().startswith(CE_PREFIX)}
    for name in CE_REQUIRED_HEADERS:
        if not ce_headers.get(name, "").strip():
            raise HeaderError(name, "is required in binary mode (the event's attributes)")
    content = {"content-type": content_type} if content_type else {}
    message = HTTPMessage({**ce_headers, **content}, b"")
    try:
        event = from_binary(message, JSONFormat())
    except CloudEventValidationError as exc:
        name, errors = next(iter(exc.errors.items()))
        raise HeaderError(CE_PREFIX + name, "; ".join(map(str, errors))) from None
    except (ValueError, OverflowError):  # the SDK parses only `time` while reading headers
        raise HeaderError("ce-time", "must be an RFC 3339 timestamp") from None
    structured = dict(event.get_attributes())
    for name, value in structured.items():
        if isinstance(value, str) and "\x00" in value:  # percent-decoded %00: not storable
            raise HeaderError(CE_PREFIX + name, "must not hold NUL (%00)")
    structured.pop("time", None)  # the SDK's datetime, or its invented "now" when ce-time is absent
    if "ce-time" in ce_headers:
        structured["time"] = unquote(ce_headers["ce-time"])  # as sent; checked as structured
    structured["data"] = data
    try:
        return parse_cloudevents(structured)
    except AlertParseError as exc:
        raise HeaderError(CE_PREFIX + exc.field, exc.reason) from None


def read_generic(body: Any) -> Delivery:
    """Every item stored: in its recognised format, else unmapped with a note why."""
    if isinstance(body, list) and not body:
        raise AlertParseError("body", "an empty array holds no alert")
    items = body if isinstance(body, list) else [body]
    alerts: list[ParsedAlert] = []
    notes: list[Note] = []
    for index, item in enumerate(items):
        prefix = f"[{index}]" if isinstance(body, list) else ""
        alert, note = _read_one(item)
        alerts.append(alert)
        if note is not None:
            notes.append(Note(_within(prefix, note.field), note.detail))
    return Delivery(alerts, notes=notes)


def _within(prefix: str, path: str) -> str:
    """An item's field path inside the array: `[2].title`, `[2]` for the item itself."""
    if not prefix:
        return path
    if path == "body":
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def _read_one(item: Any) -> tuple[ParsedAlert, Note | None]:
    if isinstance(item, dict):
        for label, recognise, parse in RECOGNISED:
            if recognise(item):
                try:
                    return parse(item)[0], None
                except AlertParseError as exc:
                    return unrecognised(item), Note(
                        exc.field, f"{exc} (looks like {label}; stored unmapped)"
                    )
    try:
        return parse_generic(item)[0], None
    except AlertParseError as exc:
        return unrecognised(item), Note(
            exc.field, f"{exc} (not irp's generic format; stored unmapped)"
        )


def _name_of(body: Any) -> str:
    if isinstance(body, dict):
        for key in NAME_KEYS:
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:NAME_MAX]
    return UNRECOGNISED_NAME


def unrecognised(body: Any) -> ParsedAlert:
    """A body in no known format: stored whole, never classified; its key hashes the body,
    so a sender's retry stores nothing new."""
    name = _name_of(body)
    return ParsedAlert(
        source="generic",
        dedup_key=make_dedup_key("generic", "body", body),
        fingerprint=None,
        status="firing",
        name=name,
        labels={},
        annotations={},
        starts_at=None,
        ends_at=None,
        summary=name[:SUMMARY_MAX],
        service=None,
        incident_type=None,
        subtype=None,
        severity=None,
        raw=body if isinstance(body, dict) else {"body": body},
        recognised=False,
    )
