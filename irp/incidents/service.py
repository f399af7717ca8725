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
from models.intake import IncidentIntake

MILESTONES = ("reported", "activated", "contained", "resolved", "closed")


def open_incident(
    session: Session,
    incident_type: IncidentType,
    intake: IncidentIntake,
    *,
    drill: bool = False,
    options: dict[str, Any] | None = None,
    dedup_key: str | None = None,
    status: IncidentStatus = IncidentStatus.open,
) -> Incident:
    """Record an intake (PLAN 4.1: the report): type, times, reporter, scope; facts keep the rest."""
    now = utcnow()
    facts = intake.model_dump(mode="json", exclude={"summary", "reporter", "description"})
    incident = Incident(
        type=incident_type,
        subtype=intake.subtype,
        summary=intake.summary,
        reporter=intake.reporter,
        description=intake.description,
        service=intake.service,
        drill=drill,
        status=status,
        facts=facts,
        scope=intake.scope(),
        options=options or {},
        dedup_key=dedup_key,
        occurred_at=intake.occurred_at,
        detected_at=intake.detected_at or now,
        reported_at=now,
    )
    session.add(incident)
    session.flush()
    timeline.record(
        session,
        incident.id,
        Stage.report,
        "reported",
        f"{'Drill: ' if drill else ''}{incident_type.value} reported by {intake.reporter}: "
        f"{intake.summary}",
        actor=intake.reporter,
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


def choose_type(session: Session, incident: Incident, incident_type: IncidentType, by: str) -> None:
    """Triage: the commander gives a report without a type its type, once; the incident keeps
    its id and timeline, and the type's stages continue it."""
    if incident.type is not IncidentType.unknown:
        return
    incident.type = incident_type
    session.add(incident)
    timeline.record(
        session,
        incident.id,
        Stage.report,
        "triaged",
        f"Triage: the incident is a {incident_type.value}, chosen by {by}",
        actor=by,
        data={"incident_type": incident_type.value},
    )
