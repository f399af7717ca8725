"""Opening, reading and moving incidents through the plan's stages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from irp.errors import NotFound
from irp.incidents import timeline
from models import Incident, TimelineEvent
from models.base import utcnow
from models.enums import IncidentStatus, IncidentType, Stage
from models.report import IncidentReport

MILESTONES = ("reported", "activated", "contained", "resolved", "closed")


def open_incident(
    session: Session,
    incident_type: IncidentType,
    report: IncidentReport,
    *,
    drill: bool = False,
    options: dict[str, Any] | None = None,
    dedup_key: str | None = None,
    status: IncidentStatus = IncidentStatus.open,
) -> Incident:
    """Record a report (PLAN 4.1): type, times, reporter, scope; facts keep the rest."""
    now = utcnow()
    facts = report.model_dump(mode="json", exclude={"summary", "reporter", "description"})
    incident = Incident(
        type=incident_type,
        subtype=report.subtype,
        summary=report.summary,
        reporter=report.reporter,
        description=report.description,
        service=report.service,
        drill=drill,
        status=status,
        facts=facts,
        scope=report.scope(),
        options=options or {},
        dedup_key=dedup_key,
        occurred_at=report.occurred_at,
        detected_at=report.detected_at or now,
        reported_at=now,
    )
    session.add(incident)
    session.flush()
    timeline.record(
        session,
        incident.id,
        Stage.report,
        "reported",
        f"{'Drill: ' if drill else ''}{incident_type.value} reported by {report.reporter}: "
        f"{report.summary}",
        actor=report.reporter,
        data={"scope": incident.scope, "detected_at": incident.detected_at.isoformat()},
    )
    return incident


def get_incident(session: Session, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id!r}")
    return incident


def list_incidents(session: Session, *, limit: int = 200) -> list[Incident]:
    query = select(Incident).order_by(col(Incident.detected_at).desc()).limit(limit)
    return list(session.exec(query))


def mark_milestone(
    session: Session, incident: Incident, milestone: str, at: datetime | None = None
) -> None:
    """Set a milestone timestamp once; the first time counts (metrics depend on it)."""
    if milestone not in MILESTONES:
        raise ValueError(f"unknown milestone {milestone!r}")
    field = f"{milestone}_at"
    if getattr(incident, field) is None:
        setattr(incident, field, at or utcnow())
        session.add(incident)


def enter_stage(session: Session, incident: Incident, stage: Stage) -> None:
    """Move the incident into the stage; a run resuming or taking over the stage does not
    record its start again."""
    incident.stage = stage
    if incident.status in (
        IncidentStatus.open,
        IncidentStatus.pending_dispatch,
        IncidentStatus.blocked,
    ):
        incident.status = IncidentStatus.active if stage != Stage.report else IncidentStatus.open
    session.add(incident)
    started = select(TimelineEvent.id).where(
        TimelineEvent.incident_id == incident.id,
        TimelineEvent.kind == "stage_started",
        TimelineEvent.stage == stage.value,
    )
    if session.exec(started).first() is None:
        timeline.record(
            session, incident.id, stage, "stage_started", f"Stage {stage.value} started"
        )


def complete_stage(session: Session, incident: Incident, stage: Stage, summary: str = "") -> None:
    message = f"Stage {stage.value} completed" + (f": {summary}" if summary else "")
    timeline.record(session, incident.id, stage, "stage_completed", message)


def end_incident(session: Session, incident: Incident, status: IncidentStatus, reason: str) -> None:
    """Rejected, stopped or closed: the incident ends and the timeline says why."""
    incident.status = status
    session.add(incident)
    mark_milestone(session, incident, "closed")
    timeline.record(session, incident.id, incident.stage, f"incident_{status.value}", reason)
