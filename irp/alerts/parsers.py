"""Parse the alert formats irp accepts into one shape, `ParsedAlert`.

Pure functions over JSON-decoded bodies (no database, no HTTP), so the webhook can
parse before it touches storage. Every parser raises only `AlertParseError` for bad
input, and the error names the field as a dotted path such as `alerts[3].startsAt`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)

from irp.errors import InvalidInput
from models.enums import IncidentType
from models.plan_alerts import AlertSource

AlertStatus = Literal["firing", "resolved"]

# Column widths of models.alert.Alert; longer free text is cut, never rejected.
NAME_MAX = 500
SERVICE_MAX = 200
SUMMARY_MAX = 500

SERVICE_LABELS = ("service", "service_name", "app", "application", "app_kubernetes_io_name", "job")
SUMMARY_KEYS = ("summary", "description", "message")
SUBTYPE_LABELS = ("incident_subtype", "subtype")


class AlertParseError(InvalidInput):
    """A body that is not a valid alert of its format; `field` is a dotted path."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ParsedAlert(BaseModel):
    """One alert in irp's normalised shape, whatever format it arrived in."""

    model_config = ConfigDict(frozen=True)

    source: AlertSource
    dedup_key: str = Field(description="Opaque, fixed length; equal for retries of one alert.")
    fingerprint: str | None = Field(description="The sender's own alert fingerprint, if any.")
    status: AlertStatus
    name: str = Field(max_length=NAME_MAX)
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: AwareDatetime | None
    ends_at: AwareDatetime | None
    summary: str = Field(max_length=SUMMARY_MAX)
    service: str | None = Field(max_length=SERVICE_MAX)
    incident_type: str | None = Field(description="Sender's hint; classify() validates it.")
    subtype: str | None
    severity: str | None
    raw: dict[str, Any] = Field(description="The alert object as received (one item of alerts[]).")
    recognised: bool = Field(
        default=True, description="False: a body in no format irp knows; stored, never classified."
    )


# --- wire-level helpers -------------------------------------------------------------------

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_timestamp(value: object) -> datetime | None:
    """RFC 3339 string -> aware UTC datetime; Go's zero time (year 1) means unset."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError("must be an RFC 3339 timestamp with a time zone")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    if int(year) <= 1:
        return None
    tz = UTC
    if zone not in ("Z", "z"):
        hh, mm = int(zone[1:3]), int(zone[4:6])
        if hh > 23 or mm > 59:
            raise ValueError("has an invalid time-zone offset")
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=hh, minutes=mm))
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("is not a valid date and time") from None


def _none_to_empty(value: object) -> object:
    return {} if value is None else value


Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
KV = Annotated[dict[StrictStr, StrictStr], BeforeValidator(_none_to_empty)]
NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]


class _Wire(BaseModel):
    """Sender formats grow fields; unknown ones are kept in `raw`, not rejected."""

    model_config = ConfigDict(extra="allow")


class _AMAlert(_Wire):
    status: AlertStatus
    labels: KV
    annotations: KV = {}
    startsAt: Timestamp
    endsAt: Timestamp = None
    generatorURL: StrictStr | None = None
    fingerprint: StrictStr | None = None


class _AMBody(_Wire):
    version: StrictStr | None = None
    groupKey: StrictStr | None = None
    status: AlertStatus | None = None
    receiver: StrictStr | None = None
    groupLabels: KV = {}
    commonLabels: KV = {}
    commonAnnotations: KV = {}
    externalURL: StrictStr | None = None
    truncatedAlerts: StrictInt | None = Field(default=None, ge=0)
    alerts: list[_AMAlert] = Field(min_length=1)


class _GrafanaAlert(_AMAlert):
    values: dict[StrictStr, Any] | None = None
    valueString: StrictStr | None = None


class _GrafanaBody(_AMBody):
    alerts: list[_GrafanaAlert] = Field(min_length=1)  # type: ignore[assignment]
    orgId: StrictInt | None = None
    state: StrictStr | None = None
    title: StrictStr | None = None
    message: StrictStr | None = None


class _CloudEvent(_Wire):
    specversion: Literal["1.0"]
    id: NonEmptyStr
    source: NonEmptyStr
    type: NonEmptyStr
    time: Timestamp = None
    subject: StrictStr | None = None
    datacontenttype: StrictStr | None = None
    dataschema: StrictStr | None = None
    data: Any = None
    data_base64: StrictStr | None = None


class GenericAlert(BaseModel):
    """irp's own alert format, for senders that have no native one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Bulk export of customer table by svc-report",
                    "status": "firing",
                    "incident_type": "data_breach",
                    "service": "crm",
                    "severity": "critical",
                    "labels": {"env": "prod"},
                    "occurred_at": "2025-11-03T08:15:00Z",
                    "dedup_key": "dlp-4711",
                }
            ]
        },
    )

    title: StrictStr = Field(min_length=1, max_length=NAME_MAX, description="What happened.")
    status: AlertStatus = Field(
        default="firing", description="`firing`, or `resolved` to close an earlier alert."
    )
    incident_type: IncidentType | None = Field(
        default=None, description="Incident type; if absent, classification rules decide."
    )
    subtype: StrictStr | None = Field(
        default=None, max_length=40, description="Subtype, e.g. `ddos` for a network attack."
    )
    service: StrictStr | None = Field(
        default=None, max_length=SERVICE_MAX, description="Affected service."
    )
    severity: StrictStr | None = Field(
        default=None, max_length=40, description="Sender's severity, e.g. `critical`."
    )
    labels: dict[StrictStr, StrictStr] = Field(
        default_factory=dict, description="Extra key/value labels that classification rules see."
    )
    description: StrictStr | None = Field(default=None, description="Longer free text.")
    occurred_at: Timestamp = Field(
        default=None, description="When it started (RFC 3339 with a time zone)."
    )
    dedup_key: StrictStr | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Repeat the same key to update one alert; default: a hash of stable fields.",
    )


# --- shared logic -------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        elif _IDENT.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "body"


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _lone_surrogate(value: object, loc: tuple[int | str, ...] = ()) -> tuple[int | str, ...] | None:
    """Where a string holds a lone surrogate: JSON can escape one (\\ud800), but it is not
    text, and neither UTF-8 nor the database can store it."""
    if isinstance(value, str):
        return None if _is_text(value) else loc
    if isinstance(value, dict):
        items: Iterable[tuple[int | str, object]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and not _is_text(key):
            return (*loc, key, "[key]")
        found = _lone_surrogate(item, (*loc, key))
        if found is not None:
            return found
    return None


def _is_text(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _validate(model: type[M], body: object) -> M:
    if not isinstance(body, dict):
        raise AlertParseError("body", f"must be a JSON object, not {_json_type(body)}")
    bad = _lone_surrogate(body)
    if bad is not None:
        raise AlertParseError(_path(bad), "is not valid Unicode (a lone surrogate escape)")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        reasons = {
            "missing": "is required",
            "extra_forbidden": "is not a known field",
            "too_short": "must not be empty",
        }
        reason = reasons.get(err["type"], err["msg"].removeprefix("Value error, "))
        raise AlertParseError(_path(tuple(err["loc"])), reason) from None


def make_dedup_key(source: str, *parts: object) -> str:
    """`source:` + 32 hex chars over the parts; unambiguous whatever the parts contain."""
    encoded = json.dumps(parts, ensure_ascii=True, sort_keys=True, default=str)
    return f"{source}:{hashlib.sha256(encoded.encode('ascii')).hexdigest()[:32]}"


def _first(values: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    return next((values[k] for k in keys if values.get(k)), None)


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _from_am_like(
    source: AlertSource, body: _AMBody, alert: _AMAlert, raw: dict[str, Any]
) -> ParsedAlert:
    labels, annotations = alert.labels, alert.annotations
    name = labels.get("alertname") or body.commonLabels.get("alertname") or "unnamed alert"
    labels_fp = make_dedup_key("labels", sorted(labels.items()))
    fingerprint_for_key = alert.fingerprint or labels_fp
    return ParsedAlert(
        source=source,
        dedup_key=make_dedup_key(source, fingerprint_for_key, _iso(alert.startsAt)),
        fingerprint=alert.fingerprint,
        status=alert.status,
        name=name[:NAME_MAX],
        labels=labels,
        annotations=annotations,
        starts_at=alert.startsAt,
        ends_at=alert.endsAt,
        summary=(_first(annotations, SUMMARY_KEYS) or name)[:SUMMARY_MAX],
        service=_cut(_first(labels, SERVICE_LABELS), SERVICE_MAX),
        incident_type=labels.get("incident_type"),
        subtype=_first(labels, SUBTYPE_LABELS),
        severity=labels.get("severity"),
        raw=raw,
    )


# --- the four parsers ---------------------------------------------------------------------


def parse_alertmanager(body: Any) -> list[ParsedAlert]:
    """Prometheus Alertmanager webhook (version 4): one ParsedAlert per alerts[] item.

    The dedup key is fingerprint + startsAt, not groupKey: a config reload re-sends
    the same alerts under a new groupKey (DOMAIN.md, "Alert sources").
    """
    parsed = _validate(_AMBody, body)
    return [
        _from_am_like("alertmanager", parsed, alert, dict(body["alerts"][i]))
        for i, alert in enumerate(parsed.alerts)
    ]


def parse_grafana(body: Any) -> list[ParsedAlert]:
    """Grafana alerting webhook: Alertmanager's shape plus orgId, state, title, values."""
    parsed = _validate(_GrafanaBody, body)
    return [
        _from_am_like("grafana", parsed, alert, dict(body["alerts"][i]))
        for i, alert in enumerate(parsed.alerts)
    ]


_CE_NAME = re.compile(r"[a-z0-9]+")
_CE_KNOWN = set(_CloudEvent.model_fields)


def _ce_extensions(event: _CloudEvent) -> dict[str, str]:
    """Extension attributes as strings; CloudEvents allows only scalar values."""
    out: dict[str, str] = {}
    for key, value in (event.model_extra or {}).items():
        if not _CE_NAME.fullmatch(key):
            raise AlertParseError(_path((key,)), "attribute names must be lower-case a-z and 0-9")
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            out[key] = str(value)
        else:
            raise AlertParseError(key, "extension attributes must be strings, numbers or booleans")
    return out


def parse_cloudevents(body: Any) -> list[ParsedAlert]:
    """A CloudEvents 1.0 event in structured JSON mode; dedup key is source + id.

    Extensions carry the hints: `incidenttype`, `incidentsubtype`, `severity`,
    `service`, and `status` (`firing` or `resolved`, default firing).
    """
    event = _validate(_CloudEvent, body)
    ext = _ce_extensions(event)
    status = ext.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise AlertParseError("status", "must be 'firing' or 'resolved'")
    data = event.data if isinstance(event.data, dict) else {}
    text = {k: v for k, v in data.items() if isinstance(v, str)}
    summary = _first(text, SUMMARY_KEYS) or event.subject or event.type
    return [
        ParsedAlert(
            source="cloudevents",
            dedup_key=make_dedup_key("cloudevents", event.source, event.id),
            fingerprint=None,
            status="resolved" if status == "resolved" else "firing",
            name=event.type[:NAME_MAX],
            labels=ext,
            annotations={"subject": event.subject} if event.subject else {},
            starts_at=event.time,
            ends_at=None,
            summary=summary[:SUMMARY_MAX],
            service=_cut(_first(ext, SERVICE_LABELS), SERVICE_MAX),
            incident_type=ext.get("incidenttype"),
            subtype=ext.get("incidentsubtype"),
            severity=ext.get("severity"),
            raw=dict(body),
        )
    ]


def parse_generic(body: Any) -> list[ParsedAlert]:
    """irp's own format (`GenericAlert`); without `dedup_key`, stable fields are hashed."""
    alert = _validate(GenericAlert, body)
    itype = alert.incident_type.value if alert.incident_type else None
    if alert.dedup_key is not None:
        key = make_dedup_key("generic", "key", alert.dedup_key)
    else:
        stable = [alert.title, alert.service, itype, alert.subtype, sorted(alert.labels.items())]
        key = make_dedup_key("generic", "fields", stable, _iso(alert.occurred_at))
    return [
        ParsedAlert(
            source="generic",
            dedup_key=key,
            fingerprint=None,
            status=alert.status,
            name=alert.title,
            labels=alert.labels,
            annotations={"description": alert.description} if alert.description else {},
            starts_at=alert.occurred_at,
            ends_at=None,
            summary=(alert.description or alert.title)[:SUMMARY_MAX],
            service=alert.service or _cut(_first(alert.labels, SERVICE_LABELS), SERVICE_MAX),
            incident_type=itype,
            subtype=alert.subtype,
            severity=alert.severity,
            raw=dict(body),
        )
    ]


PARSERS: dict[str, Callable[[Any], list[ParsedAlert]]] = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "cloudevents": parse_cloudevents,
    "generic": parse_generic,
}
