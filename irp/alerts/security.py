"""Security tools' alerts: Suricata EVE and Wazuh, recognised in bodies sent to /alerts/generic.

Both repeat an alert for every matching packet or log line, so their dedup keys (DOMAIN.md,
"Alert sources and how they map") include a time bucket: repeats within `TIME_BUCKET_S`
are stored once, later ones attach to the incident that is still open.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictInt, StrictStr

from irp.alerts.parsers import (
    NAME_MAX,
    SUMMARY_MAX,
    AlertParseError,
    ParsedAlert,
    _validate,
    _Wire,
    make_dedup_key,
    parse_timestamp,
)
from models.enums import IncidentType

TIME_BUCKET_S = 600
WAZUH_HINT_MIN_LEVEL = 6  # Wazuh's "low relevance attack"; below it the plan's rules decide

_EVENT_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)


def event_time(value: str, field: str) -> tuple[datetime | None, int]:
    """Suricata's and Wazuh's timestamps (`+0800`; old Suricata gives no zone) -> the aware
    UTC time, or None when the zone is unknown, and the time bucket the dedup key uses."""
    match = _EVENT_TIME.fullmatch(value)
    if match is None:
        raise AlertParseError(field, "must be a timestamp such as 2025-11-03T08:15:30.1+0800")
    date, clock, zone = match.groups()
    if zone and zone not in ("Z", "z") and ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        moment = parse_timestamp(f"{date}T{clock}{zone or 'Z'}")
    except ValueError as exc:
        raise AlertParseError(field, str(exc)) from None
    if moment is None:
        raise AlertParseError(field, "is not a valid date")
    return (moment if zone else None), int(moment.timestamp()) // TIME_BUCKET_S


def _labels(**values: object) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


# --- Suricata EVE -------------------------------------------------------------------------

_DDOS = re.compile(r"(?i)denial.of.service|\bd?dos\b|flood")
_MALWARE = re.compile(
    r"(?i)trojan|malware|command.and.control|\bc2\b|\bcnc\b|virus|worm|ransomware|spyware"
    r"|coin.?min|botnet"
)
_EVE_SEVERITY = {1: "high", 2: "medium", 3: "low"}


class _EveAlert(_Wire):
    signature_id: StrictInt
    gid: StrictInt = 1
    rev: StrictInt | None = None
    signature: StrictStr = ""
    category: StrictStr = ""
    severity: StrictInt | None = None
    action: StrictStr | None = None


class _EveEvent(_Wire):
    timestamp: StrictStr
    event_type: Literal["alert"]
    alert: _EveAlert
    src_ip: StrictStr | None = None
    src_port: StrictInt | None = None
    dest_ip: StrictStr | None = None
    dest_port: StrictInt | None = None
    proto: StrictStr | None = None
    app_proto: StrictStr | None = None
    host: StrictStr | None = None


def is_suricata(body: dict[str, Any]) -> bool:
    return body.get("event_type") == "alert" and isinstance(body.get("alert"), dict)


def eve_subtype(category: str, signature: str) -> str:
    """network_attack's subtype from the rule's classtype and message (DOMAIN.md)."""
    text = f"{category} {signature}"
    if _DDOS.search(text):
        return "ddos"
    if _MALWARE.search(text):
        return "malware"
    return "intrusion"


def parse_suricata(body: Any) -> list[ParsedAlert]:
    """A Suricata EVE `alert` event: network_attack; dedup gid:signature_id:dest_ip per bucket."""
    event = _validate(_EveEvent, body)
    rule = event.alert
    starts_at, bucket = event_time(event.timestamp, "timestamp")
    name = rule.signature or f"Suricata signature {rule.gid}:{rule.signature_id}"
    flow = f"{event.src_ip or '?'}:{event.src_port or '-'} -> {event.dest_ip or '?'}:"
    flow += f"{event.dest_port or '-'}"
    detail = (
        f"Suricata {rule.action or 'alert'} {event.proto or ''} {flow}, signature "
        f"{rule.gid}:{rule.signature_id}:{rule.rev or 0} ({rule.category or 'no category'}, "
        f"severity {rule.severity})"
    )
    return [
        ParsedAlert(
            source="suricata",
            dedup_key=make_dedup_key(
                "suricata", rule.gid, rule.signature_id, event.dest_ip, bucket
            ),
            fingerprint=f"{rule.gid}:{rule.signature_id}",
            status="firing",
            name=name[:NAME_MAX],
            labels=_labels(
                signature_id=rule.signature_id,
                gid=rule.gid,
                rev=rule.rev,
                category=rule.category,
                suricata_severity=rule.severity,
                action=rule.action,
                src_ip=event.src_ip,
                src_port=event.src_port,
                dest_ip=event.dest_ip,
                dest_port=event.dest_port,
                proto=event.proto,
                app_proto=event.app_proto,
                host=event.host,
            ),
            annotations={"description": detail},
            starts_at=starts_at,
            ends_at=None,
            summary=f"{name} ({flow})"[:SUMMARY_MAX],
            service=None,
            incident_type=IncidentType.network_attack.value,
            subtype=eve_subtype(rule.category, rule.signature),
            severity=_EVE_SEVERITY.get(rule.severity or 0, "low"),
            raw=dict(body),
        )
    ]


# --- Wazuh --------------------------------------------------------------------------------

# rule.groups -> (type, subtype); the first entry with a group in common wins.
WAZUH_GROUPS: list[tuple[frozenset[str], IncidentType, str | None]] = [
    (frozenset({"ddos", "dos"}), IncidentType.network_attack, "ddos"),
    (
        frozenset({"malware", "virus", "virustotal", "rootcheck", "rootkit", "yara", "ransomware"}),
        IncidentType.network_attack,
        "malware",
    ),
    (
        frozenset({"exfiltration", "data_exfiltration", "data_leak", "dlp"}),
        IncidentType.data_breach,
        None,
    ),
    (
        frozenset(
            {
                "authentication_failures",
                "brute_force",
                "attack",
                "attacks",
                "web_scan",
                "sql_injection",
                "exploit_attempt",
                "intrusion_attempt",
                "ids",
                "recon",
            }
        ),
        IncidentType.network_attack,
        "intrusion",
    ),
]


class _WazuhRule(_Wire):
    level: StrictInt = Field(ge=0, le=16)
    id: StrictStr | StrictInt
    description: StrictStr = ""
    groups: list[StrictStr] = []


class _WazuhAgent(_Wire):
    id: StrictStr | None = None
    name: StrictStr | None = None
    ip: StrictStr | None = None


class _WazuhAlert(_Wire):
    timestamp: StrictStr
    rule: _WazuhRule
    agent: _WazuhAgent = _WazuhAgent()
    id: StrictStr | None = None
    full_log: StrictStr | None = None
    location: StrictStr | None = None
    data: dict[StrictStr, Any] = {}


def is_wazuh(body: dict[str, Any]) -> bool:
    rule = body.get("rule")
    return isinstance(rule, dict) and "level" in rule


def scalar_text(value: object) -> str | None:
    """A JSON scalar as text (form values and loosely typed senders); None for the rest."""
    return str(value) if isinstance(value, str | int | float) and value != "" else None


def wazuh_severity(level: int) -> str:
    if level >= 12:
        return "critical"
    if level >= 10:
        return "high"
    return "medium" if level >= WAZUH_HINT_MIN_LEVEL else "low"


def parse_wazuh(body: Any) -> list[ParsedAlert]:
    """A Wazuh alert (as a custom integration posts it): type from rule.groups at level >= 6;
    dedup rule.id + agent.id + data.srcuser per bucket."""
    alert = _validate(_WazuhAlert, body)
    rule, agent = alert.rule, alert.agent
    starts_at, bucket = event_time(alert.timestamp, "timestamp")
    srcuser = scalar_text(alert.data.get("srcuser"))
    groups = set(rule.groups)
    mapped = next((m for m in WAZUH_GROUPS if m[0] & groups), None)
    hinted = mapped is not None and rule.level >= WAZUH_HINT_MIN_LEVEL
    name = rule.description or f"Wazuh rule {rule.id}"
    where = f" on {agent.name}" if agent.name else ""
    return [
        ParsedAlert(
            source="wazuh",
            dedup_key=make_dedup_key("wazuh", str(rule.id), agent.id, srcuser, bucket),
            fingerprint=alert.id,
            status="firing",
            name=name[:NAME_MAX],
            labels=_labels(
                rule_id=rule.id,
                rule_level=rule.level,
                rule_groups=",".join(rule.groups),
                agent_id=agent.id,
                agent_name=agent.name,
                agent_ip=agent.ip,
                srcip=scalar_text(alert.data.get("srcip")),
                srcuser=srcuser,
                dstuser=scalar_text(alert.data.get("dstuser")),
                location=alert.location,
            ),
            annotations={"description": alert.full_log} if alert.full_log else {},
            starts_at=starts_at,
            ends_at=None,
            summary=f"{name}{where} (level {rule.level})"[:SUMMARY_MAX],
            service=None,
            incident_type=mapped[1].value if hinted and mapped else None,
            subtype=mapped[2] if hinted and mapped else None,
            severity=wazuh_severity(rule.level),
            raw=dict(body),
        )
    ]
