"""One delivery (a request body) -> the alerts to store, plus what the delivery says about them.

Alertmanager, Grafana and CloudEvents endpoints are strict: a body that is not their format
is a 422 naming the field. `/alerts/generic` keeps the docs' promise "stored, never
dropped": irp's own format, the formats recognised by shape (Suricata EVE, Wazuh, Tencent
Cloud, Aliyun CloudMonitor), and anything else is stored unmapped for a person to read, the
answer naming what was not understood. A JSON array holds one such body per item, as log
shippers batch them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from irp.alerts.cloud import is_aliyun, is_tencent, parse_aliyun, parse_tencent
from irp.alerts.parsers import (
    NAME_MAX,
    PARSERS,
    SUMMARY_MAX,
    AlertParseError,
    ParsedAlert,
    make_dedup_key,
    parse_generic,
)
from irp.alerts.security import is_suricata, is_wazuh, parse_suricata, parse_wazuh

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


def read_delivery(source: str, body: Any) -> Delivery:
    """Parse a decoded body sent to `/alerts/<source>`; raises AlertParseError (a 422)."""
    if source == "generic":
        return read_generic(body)
    alerts = PARSERS[source](body)
    if source in ("alertmanager", "grafana"):
        truncated = body.get("truncatedAlerts") or 0
        group_key = body.get("groupKey")
        return Delivery(alerts, truncated, group_key if isinstance(group_key, str) else None)
    return Delivery(alerts)


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
