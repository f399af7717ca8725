"""Store parsed alerts and turn them into incidents: dedup, grouping, resolve, re-fire.

Plain functions on a Session; the caller commits. Races between concurrent deliveries are
settled by the database, never by check-then-insert:
- `alert.dedup_key` is unique: an alert row is inserted with ON CONFLICT DO NOTHING, and a
  conflict means another delivery already stored it (a retry or a re-send).
- `open_incident_group.group_key` (`group:<type>:<service>`) is a primary key: only the
  delivery that inserts it opens an incident; the others attach to that incident. A group
  row whose incident has ended is deleted (only if it still names that incident) and claimed
  again, so a re-fired alert after closure opens a new incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from irp.alerts.classify import Classification, ClassificationRule, classify
from irp.alerts.parsers import ParsedAlert
from irp.alerts.storable import RawBody
from irp.db import insert_ignore, insert_new
from irp.incidents import service as incidents
from irp.incidents import timeline
from models import Alert, Incident, OpenIncidentGroup
from models.base import utcnow
from models.enums import IncidentStatus, IncidentType
from models.intake import IncidentIntake

ENDED = (IncidentStatus.closed, IncidentStatus.rejected, IncidentStatus.stopped)
CLAIM_ATTEMPTS = 5
_ATTACHED_NAMES = 5
SENDER_NAMES = {"alertmanager": "Alertmanager", "grafana": "Grafana"}


@dataclass
class IngestResult:
    """What one delivery did; `opened` incidents wait for dispatch."""

    stored: int = 0
    duplicates: int = 0
    resolved: int = 0
    unmapped: int = 0
    opened: list[str] = field(default_factory=list)
    attached: dict[str, list[str]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)  # incidents of every alert, duplicates too

    def as_dict(self) -> dict[str, Any]:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "resolved": self.resolved,
            "unmapped": self.unmapped,
            "incidents_opened": self.opened,
            "incidents_attached": sorted(set(self.attached) - set(self.opened)),
        }


def group_key(incident_type: IncidentType, service: str | None) -> str:
    """Alerts of one type and service while an incident is open belong to that incident."""
    return f"group:{incident_type.value}:{service or '-'}"


class OpenGroup(NamedTuple):
    """An alert group's open incident and its stage, as read with the group row."""

    incident_id: str
    stage: str


def _alert_row(session: Session, dedup_key: str) -> Alert:
    return session.exec(select(Alert).where(Alert.dedup_key == dedup_key)).one()


@dataclass(frozen=True)
class Truncation:
    """Alerts a sender counted but left out of a delivery (Alertmanager's `truncatedAlerts`,
    set by `max_alerts`): they never reach irp, so their incident must say so."""

    count: int
    source: str
    group_key: str | None = None


def ingest_alerts(
    session: Session,
    alerts: Sequence[ParsedAlert],
    rules: list[ClassificationRule],
    *,
    raw: RawBody | None = None,
    truncation: Truncation | None = None,
) -> IngestResult:
    """Store every alert once, link it to its incident, and open incidents where needed.

    `raw` is kept on each new alert row (the body, when the stored fields are not exactly
    what arrived); `truncation` is written on the incidents the delivery's alerts belong to.
    """
    result = IngestResult()
    groups: dict[str, OpenGroup] = {}  # group key -> its open incident, read once a delivery
    for alert in alerts:
        _ingest_one(session, alert, rules, result, raw, groups)
    stages = {group.incident_id: group.stage for group in groups.values()}
    for incident_id, names in result.attached.items():
        if incident_id in result.opened and len(names) == 1:
            continue  # the alert that opened it; the "reported" event says so
        shown = ", ".join(names[:_ATTACHED_NAMES]) + (
            " ..." if len(names) > _ATTACHED_NAMES else ""
        )
        timeline.record(
            session,
            incident_id,
            stages[incident_id],
            "alerts_attached",
            f"{len(names)} alert(s) attached: {shown}",
            actor="webhook",
            data={"count": len(names)},
        )
    if truncation is not None and truncation.count > 0:
        for incident_id in sorted(result.touched):  # one lock order for concurrent deliveries
            _note_truncation(session, incident_id, truncation)
    return result


def _note_truncation(session: Session, incident_id: str, truncation: Truncation) -> None:
    """Facts keep the latest count per sender group; the timeline says when it changes."""
    incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
    if incident is None:
        return
    group = truncation.group_key or "-"
    counts = dict(incident.facts.get("alerts_truncated") or {})
    if counts.get(group) == truncation.count:
        return
    counts[group] = truncation.count
    incident.facts = {**incident.facts, "alerts_truncated": counts}
    session.add(incident)
    sender = SENDER_NAMES.get(truncation.source, truncation.source)
    timeline.record(
        session,
        incident_id,
        incident.stage,
        "alerts_truncated",
        f"{truncation.count} more alerts truncated by {sender} (its max_alerts): "
        "they are not stored here",
        actor=truncation.source,
        data={"count": truncation.count, "group_key": truncation.group_key},
    )


def _ingest_one(
    session: Session,
    alert: ParsedAlert,
    rules: list[ClassificationRule],
    result: IngestResult,
    raw: RawBody | None,
    groups: dict[str, OpenGroup],
) -> None:
    """A firing alert of a group with an open incident goes in already linked to it (one
    statement); otherwise it is stored first and linked once its incident is settled."""
    found = classify(alert, rules) if alert.recognised else None
    values = {
        "source": alert.source,
        "dedup_key": alert.dedup_key,
        "name": alert.name,
        "status": alert.status,
        "service": alert.service,
        "incident_type": found.incident_type.value if found else None,
        "subtype": found.subtype if found else None,
        "priority": found.priority.value if found and found.priority else None,
        "mapped": found is not None,
        "labels": alert.labels,
        "payload": alert.raw,
        "raw_body": raw.text if raw else None,
        "raw_body_encoding": raw.encoding if raw else None,
        "starts_at": alert.starts_at,
        "received_at": utcnow(),
    }
    key = group_key(found.incident_type, alert.service) if found else ""
    group = None
    if found is not None and alert.status != "resolved":
        group = groups.get(key) or _open_group(session, key)
        if group is not None:
            groups[key] = group
            values["incident_id"] = group.incident_id
    alert_id = insert_new(session, Alert.__table__, values)  # type: ignore[attr-defined]
    if alert_id is None:
        existing = _alert_row(session, alert.dedup_key)
        if existing.incident_id is not None:
            result.touched.add(existing.incident_id)
        if alert.status == "resolved":
            _resolve(session, existing, alert, result)
        else:
            result.duplicates += 1
        return
    result.stored += 1
    if found is None:
        result.unmapped += 1
        return
    if alert.status == "resolved":
        row = _alert_row(session, alert.dedup_key)
        group = _open_group(session, key)
        if group is not None:
            row.incident_id = group.incident_id
            session.add(row)
            result.touched.add(group.incident_id)
        _resolve(session, row, alert, result, already_stored=True)
        return
    if group is None:
        group = _incident_for(session, alert, found, result)
        groups[key] = group
        session.execute(
            update(Alert).where(col(Alert.id) == alert_id).values(incident_id=group.incident_id)
        )
    result.touched.add(group.incident_id)
    result.attached.setdefault(group.incident_id, []).append(alert.name)


def _resolve(
    session: Session,
    row: Alert,
    alert: ParsedAlert,
    result: IngestResult,
    *,
    already_stored: bool = False,
) -> None:
    """Mark the stored alert resolved once (a conditional UPDATE) and annotate its incident."""
    if not already_stored:
        changed = session.execute(
            update(Alert)
            .where(col(Alert.id) == row.id, col(Alert.status) != "resolved")
            .values(status="resolved")
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            result.duplicates += 1
            return
        session.refresh(row)
    result.resolved += 1
    if row.incident_id is None:
        return
    incident = session.get(Incident, row.incident_id)
    ended = f" at {alert.ends_at.isoformat()}" if alert.ends_at else ""
    timeline.record(
        session,
        row.incident_id,
        incident.stage if incident else "report",
        "alert_resolved",
        f"Alert {alert.name} resolved{ended} ({alert.source})",
        actor=alert.source,
        data={"alert_id": row.id, "ends_at": alert.ends_at.isoformat() if alert.ends_at else None},
    )


def _group_row(session: Session, key: str) -> tuple[str, OpenGroup | None] | None:
    """The group's row (None: no row): the incident it names, and that incident with its stage
    if it has not ended. One query: the row and its incident are read together."""
    row = session.execute(
        select(OpenIncidentGroup.incident_id, Incident.status, Incident.stage)
        .outerjoin(Incident, col(Incident.id) == col(OpenIncidentGroup.incident_id))
        .where(col(OpenIncidentGroup.group_key) == key)
    ).first()
    if row is None:
        return None
    incident_id, status, stage = row
    is_open = status is not None and status not in ENDED
    return incident_id, OpenGroup(incident_id, str(stage)) if is_open else None


def _open_group(session: Session, key: str) -> OpenGroup | None:
    """The group's incident, if its row names one that has not ended."""
    row = _group_row(session, key)
    return row[1] if row is not None else None


def _incident_for(
    session: Session, alert: ParsedAlert, found: Classification, result: IngestResult
) -> OpenGroup:
    """Attach to the group's open incident, or claim the group and open one."""
    key = group_key(found.incident_type, alert.service)
    for _ in range(CLAIM_ATTEMPTS):
        row = _group_row(session, key)
        if row is not None:
            named, group = row
            if group is not None:
                return group
            # Its incident ended: free the key, unless someone already replaced the row.
            session.execute(
                delete(OpenIncidentGroup).where(
                    col(OpenIncidentGroup.group_key) == key,
                    col(OpenIncidentGroup.incident_id) == named,
                )
            )
        claimed = insert_ignore(
            session,
            OpenIncidentGroup.__table__,  # type: ignore[attr-defined]
            {"group_key": key, "incident_id": "", "opened_at": utcnow()},
        )
        if claimed:
            incident = open_from_alert(session, alert, found)
            session.execute(
                update(OpenIncidentGroup)
                .where(col(OpenIncidentGroup.group_key) == key)
                .values(incident_id=incident.id)
            )
            result.opened.append(incident.id)
            return OpenGroup(incident.id, str(incident.stage))
    raise RuntimeError(f"could not settle alert group {key!r}")  # pragma: no cover


def _intake(alert: ParsedAlert) -> IncidentIntake:
    summary = alert.summary if len(alert.summary.strip()) >= 3 else f"Alert: {alert.name}"
    detected = alert.starts_at or utcnow()
    return IncidentIntake(
        summary=summary[:500],
        reporter=alert.source,
        description=alert.annotations.get("description", "")[:20_000],
        occurred_at=alert.starts_at,
        detected_at=detected,
        service=alert.service,
        affected_services=[alert.service] if alert.service else [],
    )


def open_from_alert(session: Session, alert: ParsedAlert, found: Classification) -> Incident:
    """A new incident waiting for dispatch, its intake built from the alert."""
    intake = _intake(alert).model_copy(update={"subtype": found.subtype})
    hint = found.priority.value if found.priority else None
    alert_facts = {
        "source": alert.source,
        "name": alert.name,
        "severity": alert.severity,
        "labels": alert.labels,
        "rule": found.rule,
        "priority_hint": hint,
    }
    incident = incidents.open_incident(
        session,
        found.incident_type,
        intake,
        options={"priority_hint": hint, "alert_source": alert.source, "rule": found.rule},
        dedup_key=f"alert:{alert.dedup_key}",
        status=IncidentStatus.pending_dispatch,
    )
    incident.facts = {**incident.facts, "alert": alert_facts, "priority_hint": hint}
    session.add(incident)
    return incident


def pending_dispatch_ids(session: Session, limit: int = 500) -> list[str]:
    """Incidents opened from alerts whose flow run has not been started yet, oldest first."""
    query = (
        select(Incident.id)
        .where(Incident.status == IncidentStatus.pending_dispatch)
        .order_by(col(Incident.created_at))
        .limit(limit)
    )
    return list(session.exec(query))


def pending_incident(session: Session, incident_id: str) -> Incident | None:
    """The incident, if it still waits for dispatch; else None (nothing to do)."""
    incident = session.get(Incident, incident_id)
    if incident is None or incident.status != IncidentStatus.pending_dispatch:
        return None
    return incident


def mark_dispatched(session: Session, incident_id: str, flow_run_id: str) -> bool:
    """pending_dispatch -> open, once (a conditional UPDATE: a run that already moved the
    incident on is not pulled back), and the timeline names the flow run."""
    changed = session.execute(
        update(Incident)
        .where(
            col(Incident.id) == incident_id,
            col(Incident.status) == IncidentStatus.pending_dispatch,
        )
        .values(status=IncidentStatus.open)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.flow_run_id).is_(None))
        .values(flow_run_id=flow_run_id)
    )
    timeline.record(
        session,
        incident_id,
        "report",
        "dispatched",
        f"Flow run {flow_run_id} started for this incident",
        actor="webhook",
        data={"flow_run_id": flow_run_id},
    )
    return True


def list_alerts(session: Session, *, unmapped_only: bool = False, limit: int = 200) -> list[Alert]:
    """Alerts, newest first; `unmapped_only` shows those no rule maps (a person must)."""
    query = select(Alert).order_by(col(Alert.received_at).desc(), col(Alert.id).desc())
    if unmapped_only:
        query = query.where(col(Alert.mapped).is_(False))
    return list(session.exec(query.limit(limit)))
