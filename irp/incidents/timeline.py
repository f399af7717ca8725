"""Appending to and reading the timeline, the record every report is computed from.

Appends to one incident's timeline take turns (its incident row is locked first), so each
event links to the one before it; `verify` walks the links (`irp audit verify`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from irp.redact import default_redactor
from models import TimelineEvent
from models.base import utcnow
from models.enums import Stage
from models.timeline import GENESIS


def record(
    session: Session,
    incident_id: str,
    stage: Stage | str,
    kind: str,
    message: str,
    *,
    actor: str = "irp",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Append one event, chained to the incident's last. Messages are redacted: the timeline
    feeds reports that leave irp."""
    redactor = default_redactor()
    prev_hash = _head_in_transaction(session, incident_id)
    event = TimelineEvent(
        incident_id=incident_id,
        at=at or utcnow(),
        stage=str(stage),
        kind=kind,
        actor=actor,
        message=redactor.redact(message),
        # as it will read back (string keys, plain JSON), so its hash verifies later
        data=json.loads(json.dumps(redactor.redact_data(data or {}))),
        prev_hash=prev_hash,
    )
    event.hash = event.content_hash()
    session.add(event)
    session.flush()
    _heads(session)[incident_id] = event.hash
    return event


def _head_in_transaction(session: Session, incident_id: str) -> str:
    """The hash the next event links to. The first append of a transaction locks the incident
    and reads its head; later appends in the same transaction hold the lock and know the head
    (a stage's events come in runs: this saves two statements each)."""
    heads = _heads(session)
    if incident_id not in heads:
        _lock_incident(session, incident_id)
        heads[incident_id] = head(session, incident_id) or GENESIS
    return heads[incident_id]


def _heads(session: Session) -> dict[str, str]:
    """Heads known in the session's current transaction (a new transaction starts empty)."""
    session.connection()  # begins the transaction the heads belong to, if none is yet
    transaction = session.get_transaction()
    known = session.info.get(_HEADS)
    if known is None or known[0] is not transaction:
        known = session.info[_HEADS] = (transaction, {})
    heads: dict[str, str] = known[1]
    return heads


_HEADS = "irp.timeline.heads"


def _lock_incident(session: Session, incident_id: str) -> None:
    """Take the incident's row lock until commit: a second writer then reads the new head.
    NO KEY UPDATE, the lock an UPDATE of the row takes: FOR UPDATE would also wait for the key
    share locks of rows referring to the incident (an alert being attached) and deadlock.
    SQLite has one writer at a time; a write takes its lock before the head is read."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT id FROM incident WHERE id = :id FOR NO KEY UPDATE"), {"id": incident_id}
        )
    else:
        session.execute(text("UPDATE incident SET id = id WHERE id = :id"), {"id": incident_id})


def head(session: Session, incident_id: str) -> str | None:
    """The hash of the incident's last event (None: no event yet)."""
    query = (
        select(TimelineEvent.hash)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(col(TimelineEvent.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


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


@dataclass(frozen=True)
class ChainCheck:
    """One incident's chain as verified: intact, or the first event that does not hold."""

    incident_id: str
    events: int
    head: str | None
    broken_at: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify(session: Session, incident_id: str) -> ChainCheck:
    """Recompute every link in insertion order; name the first event whose content or link
    does not match (an edited, removed or inserted event)."""
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id)
        .order_by(col(TimelineEvent.id))
    )
    previous = GENESIS
    count = 0
    for event in session.exec(query):
        count += 1
        if event.prev_hash != previous:
            problem = "does not link to the event before it (one was removed or inserted)"
            return ChainCheck(incident_id, count, previous or None, event.id, problem)
        if event.content_hash() != event.hash:
            problem = "its content no longer matches its hash (it was edited)"
            return ChainCheck(incident_id, count, previous or None, event.id, problem)
        previous = event.hash
    return ChainCheck(incident_id, count, previous or None)
