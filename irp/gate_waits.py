"""Where gate waits stand, from the timeline: when a round was announced, which are overdue.

A run that suspends at a gate holds no process, so no code of its own notices its deadline:
the serve process asks `overdue_suspended` and reschedules those runs, which then record the
timeout themselves (flows/gates.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from models import GateDecision, Incident, TimelineEvent
from models.enums import IncidentStatus

OPEN_STATUSES = [
    s
    for s in IncidentStatus
    if s not in (IncidentStatus.closed, IncidentStatus.rejected, IncidentStatus.stopped)
]


@dataclass(frozen=True)
class OverdueWait:
    """A suspended gate round whose timeout has passed without an accepted answer."""

    incident_id: str
    gate: str
    round: int
    flow_run_id: str
    deadline: datetime


def waiting_since(
    session: Session, incident_id: str, gate: str, round_: int, flow_run_id: str | None
) -> datetime | None:
    """When this flow run announced this gate round, or None if it has not yet (a resumed
    suspended run must neither announce twice nor restart the clock)."""
    if flow_run_id is None:
        return None
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "gate_waiting")
        .order_by(col(TimelineEvent.id).desc())
    )
    for event in session.exec(query):
        data = event.data
        if (
            data.get("gate") == gate
            and int(data.get("round", 0)) == round_
            and data.get("flow_run_id") == flow_run_id
        ):
            return event.at
    return None


def overdue_suspended(session: Session, now: datetime) -> list[OverdueWait]:
    """Open incidents whose last gate wait was a suspension that has run out of time."""
    query = (
        select(TimelineEvent)
        .join(Incident, col(Incident.id) == col(TimelineEvent.incident_id))
        .where(TimelineEvent.kind == "gate_waiting", col(Incident.status).in_(OPEN_STATUSES))
        .order_by(col(TimelineEvent.id))
    )
    latest: dict[str, TimelineEvent] = {}
    for event in session.exec(query):
        latest[event.incident_id] = event
    candidates: list[OverdueWait] = []
    for incident_id, event in latest.items():
        data = event.data
        if not data.get("suspended") or not data.get("flow_run_id"):
            continue
        deadline = event.at + timedelta(seconds=float(data.get("timeout_s", 0)))
        if deadline <= now:
            candidates.append(
                OverdueWait(
                    incident_id, data["gate"], int(data["round"]), data["flow_run_id"], deadline
                )
            )
    if not candidates:
        return []
    last_answered: dict[tuple[str, str], int] = {}
    decisions = select(GateDecision).where(
        col(GateDecision.incident_id).in_([c.incident_id for c in candidates]),
        col(GateDecision.accepted).is_(True),
    )
    for d in session.exec(decisions):
        key = (d.incident_id, d.gate)
        last_answered[key] = max(last_answered.get(key, 0), d.round)
    return [c for c in candidates if last_answered.get((c.incident_id, c.gate), 0) < c.round]
