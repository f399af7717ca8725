"""Where gate waits stand, from the timeline: which round to ask, when it was announced and by
which runs, which waits are overdue.

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

ASKED_KINDS = ("gate_waiting", "gate_reasked")
"""A round is announced once (gate_waiting); a run taking over a crashed one asks it again
without a new announcement (gate_reasked, which carries the original `since`)."""
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


@dataclass(frozen=True)
class RoundAsked:
    """A gate round already put to its deciders: since when, and which flow runs asked it."""

    since: datetime
    flow_run_ids: frozenset[str]


def _gate_events(session: Session, incident_id: str, gate: str) -> list[TimelineEvent]:
    query = (
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident_id,
            col(TimelineEvent.kind).in_(ASKED_KINDS),
        )
        .order_by(col(TimelineEvent.id))
    )
    return [e for e in session.exec(query) if e.data.get("gate") == gate]


def round_to_ask(session: Session, incident_id: str, gate: str, decided: list[GateDecision]) -> int:
    """The last round announced while no accepted decision settled it (a resumed or recovered
    run asks that one again), else the round after everything recorded so far."""
    asked = [int(e.data.get("round", 0)) for e in _gate_events(session, incident_id, gate)]
    last = max(asked, default=0)
    if last and last not in {d.round for d in decided if d.accepted}:
        return last
    return max([last, *(d.round for d in decided)]) + 1


def round_asked(session: Session, incident_id: str, gate: str, round_: int) -> RoundAsked | None:
    """When this gate round was announced and which runs have asked it since, or None if it
    was never announced (a run resuming or taking over neither announces twice nor restarts
    the clock)."""
    events = [
        e for e in _gate_events(session, incident_id, gate) if int(e.data.get("round", 0)) == round_
    ]
    announced = [e for e in events if e.kind == "gate_waiting"]
    if not announced:
        return None
    runs = frozenset(str(e.data["flow_run_id"]) for e in events if e.data.get("flow_run_id"))
    return RoundAsked(since=announced[0].at, flow_run_ids=runs)


def overdue_suspended(session: Session, now: datetime) -> list[OverdueWait]:
    """Open incidents whose last gate wait was a suspension that has run out of time."""
    query = (
        select(TimelineEvent)
        .join(Incident, col(Incident.id) == col(TimelineEvent.incident_id))
        .where(col(TimelineEvent.kind).in_(ASKED_KINDS), col(Incident.status).in_(OPEN_STATUSES))
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
        since = datetime.fromisoformat(data["since"]) if "since" in data else event.at
        deadline = since + timedelta(seconds=float(data.get("timeout_s", 0)))
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
