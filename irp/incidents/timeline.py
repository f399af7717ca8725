"""Appending to and reading the timeline, the record every report is computed from."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from irp.redact import default_redactor
from models import TimelineEvent
from models.enums import Stage


def record(
    session: Session,
    incident_id: str,
    stage: Stage | str,
    kind: str,
    message: str,
    *,
    actor: str = "irp",
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    """Append one event. Messages are redacted: the timeline feeds reports that leave irp."""
    redactor = default_redactor()
    event = TimelineEvent(
        incident_id=incident_id,
        stage=str(stage),
        kind=kind,
        actor=actor,
        message=redactor.redact(message),
        data=redactor.redact_data(data or {}),
    )
    session.add(event)
    session.flush()
    return event


def events(session: Session, incident_id: str) -> list[TimelineEvent]:
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    )
    return list(session.exec(query))


def stage_completed(session: Session, incident_id: str, stage: Stage) -> bool:
    query = select(TimelineEvent.id).where(
        TimelineEvent.incident_id == incident_id,
        TimelineEvent.kind == "stage_completed",
        TimelineEvent.stage == stage.value,
    )
    return session.exec(query).first() is not None
