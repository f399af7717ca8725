"""Cloud monitors' alarm callbacks: Tencent Cloud Observability and Aliyun CloudMonitor.

Recognised in bodies sent to /alerts/generic (Aliyun posts a form, Tencent JSON). Both are
metric or event alarms with no incident type of their own, so the plan's rules decide from
the name and labels; no rule matching means stored and listed as unmapped. The parsers are
lenient about types (both vendors send numbers as strings, or not), strict about what the
dedup key and status need.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from irp.alerts.parsers import NAME_MAX, SUMMARY_MAX, AlertParseError, ParsedAlert, make_dedup_key
from irp.alerts.security import scalar_text


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _labels(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


# --- Tencent Cloud ------------------------------------------------------------------------


def is_tencent(body: dict[str, Any]) -> bool:
    return isinstance(body.get("alarmPolicyInfo"), dict) and "alarmStatus" in body


def parse_tencent(body: dict[str, Any]) -> list[ParsedAlert]:
    """A Tencent Cloud alarm callback; `alarmStatus` 1 fires, 0 recovers, and both carry the
    same `sessionId` (the dedup key), so a recovery resolves the stored alarm."""
    status = scalar_text(body.get("alarmStatus"))
    if status not in ("0", "1"):
        raise AlertParseError("alarmStatus", "must be 1 (alarm) or 0 (recovered)")
    session = scalar_text(body.get("sessionId"))
    if session is None:
        raise AlertParseError("sessionId", "is required")
    policy = _object(body.get("alarmPolicyInfo"))
    target = _object(body.get("alarmObjInfo"))
    conditions = _object(policy.get("conditions"))
    dimensions = _object(target.get("dimensions"))
    what = scalar_text(conditions.get("metricShowName")) or scalar_text(
        conditions.get("eventShowName")
    )
    policy_name = scalar_text(policy.get("policyName")) or "Tencent Cloud alarm"
    name = f"{policy_name}: {what}" if what else policy_name
    instance = scalar_text(dimensions.get("unInstanceId")) or scalar_text(dimensions.get("objId"))
    value = scalar_text(conditions.get("currentValue"))
    unit = scalar_text(conditions.get("unit")) or ""
    summary = f"{name} on {instance}" if instance else name
    if value is not None:
        summary += f" (now {value}{unit})"
    return [
        ParsedAlert(
            source="tencent",
            dedup_key=make_dedup_key("tencent", session, scalar_text(body.get("alertId"))),
            fingerprint=session,
            status="resolved" if status == "0" else "firing",
            name=name[:NAME_MAX],
            labels=_labels(
                alarm_type=scalar_text(body.get("alarmType")),
                namespace=scalar_text(target.get("namespace")),
                region=scalar_text(target.get("region")),
                policy_id=scalar_text(policy.get("policyId")),
                policy_type=scalar_text(policy.get("policyType")),
                metric=scalar_text(conditions.get("metricName"))
                or scalar_text(conditions.get("eventName")),
                instance=instance,
            ),
            annotations={},
            starts_at=None,  # firstOccurTime has no time zone
            ends_at=None,
            summary=summary[:SUMMARY_MAX],
            service=None,
            incident_type=None,
            subtype=None,
            severity=scalar_text(body.get("alarmLevel")),
            raw=dict(body),
        )
    ]


# --- Aliyun CloudMonitor ------------------------------------------------------------------


def is_aliyun(body: dict[str, Any]) -> bool:
    return "alertName" in body and "alertState" in body


def _unix_time(value: str | None) -> datetime | None:
    """Seconds or milliseconds since the epoch, as Aliyun sends them; None if not one."""
    if value is None or not value.isdigit() or len(value) > 16:
        return None
    seconds = int(value) / (1000 if len(value) > 11 else 1)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _instance(dimensions: str | None) -> str | None:
    """`dimensions` is JSON in a form field: [{"instanceId": ...}] or {"instanceId": ...}."""
    try:
        parsed = json.loads(dimensions) if dimensions else None
    except ValueError:
        return None
    first = parsed[0] if isinstance(parsed, list) and parsed else parsed
    return scalar_text(_object(first).get("instanceId"))


def parse_aliyun(body: dict[str, Any]) -> list[ParsedAlert]:
    """An Aliyun CloudMonitor threshold alarm callback (a form, or the same fields as JSON).

    It carries no alarm id, so the dedup key is the notification itself (rule, dimensions,
    state, timestamp): a retry stores nothing new, a later notification is a new alert.
    """
    name = scalar_text(body.get("alertName"))
    if name is None:
        raise AlertParseError("alertName", "must be a non-empty string")
    state = (scalar_text(body.get("alertState")) or "").upper()
    if not state:
        raise AlertParseError("alertState", "must be OK, ALERT or INSUFFICIENT_DATA")
    fields = {k: scalar_text(v) for k, v in body.items()}
    dimensions = fields.get("dimensions")
    instance = fields.get("instanceName") or _instance(dimensions)
    metric = fields.get("metricName")
    value = fields.get("curValue")
    summary = f"{name} on {instance}" if instance else name
    if metric and value is not None:
        summary += f" ({metric} = {value})"
    identity = [fields.get("ruleId") or name, dimensions, state, fields.get("timestamp")]
    return [
        ParsedAlert(
            source="aliyun",
            dedup_key=make_dedup_key("aliyun", identity),
            fingerprint=fields.get("ruleId"),
            status="resolved" if state == "OK" else "firing",
            name=name[:NAME_MAX],
            labels=_labels(
                alert_state=state,
                metric=metric,
                namespace=fields.get("namespace") or fields.get("metricProject"),
                instance=instance,
                rule_id=fields.get("ruleId"),
                region=fields.get("regionId"),
                trigger_level=fields.get("triggerLevel"),
            ),
            annotations=_labels(description=fields.get("expression")),
            starts_at=_unix_time(fields.get("timestamp")),
            ends_at=None,
            summary=summary[:SUMMARY_MAX],
            service=None,
            incident_type=None,
            subtype=None,
            severity=(fields.get("triggerLevel") or "").lower() or None,
            raw=dict(body),
        )
    ]
