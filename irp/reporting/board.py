"""The incident board (issue 11 item 7): every open incident, what it waits for and whose
move it is, read whole from the database each time, so the board is never a sum of updates
that could drift from the truth. Rendered as a Prefect table artifact by tasks/board.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from irp.duties import report_parts
from irp.errors import NotFound
from irp.gates import service as gates
from irp.gates.waits import OPEN_STATUSES
from irp.plan.loader import plan_for
from irp.response import manual
from models import Incident, RegulatoryClock
from models.plan import Plan

COLUMNS = ["incident", "type", "drill", "priority", "stage", "status", "waits for", "next clock"]
PRIORITY_ORDER = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}


def board_rows(session: Session) -> list[dict[str, Any]]:
    """One row per open incident, most urgent first (priority, then the oldest)."""
    query = select(Incident).where(col(Incident.status).in_(OPEN_STATUSES))
    incidents = sorted(
        session.exec(query),
        key=lambda i: (
            PRIORITY_ORDER.get(i.priority.value if i.priority else "", 9),
            i.detected_at,
        ),
    )
    return [_row(session, incident) for incident in incidents]


def _row(session: Session, incident: Incident) -> dict[str, Any]:
    return {
        "incident": f"{incident.id}: {incident.summary}",
        "type": incident.type.value + (f" / {incident.subtype}" if incident.subtype else ""),
        "drill": "drill" if incident.drill else "real",
        "priority": incident.priority.value if incident.priority else "-",
        "stage": incident.stage.value,
        "status": incident.status.value,
        "waits for": waits_for(session, incident),
        "next clock": next_clock(session, incident.id),
    }


def waits_for(session: Session, incident: Incident) -> str:
    """What the incident waits for and whose answer it needs; "-" while irp itself works."""
    for waiter in WAITERS:
        found = waiter(session, incident)
        if found:
            return found
    return "-"


def _gate(session: Session, incident: Incident) -> str | None:
    try:
        waiting = gates.waiting_gate(session, incident)
    except NotFound:
        return None
    return f"gate {waiting.gate} (round {waiting.round}): {', '.join(waiting.deciders)}"


def _report_parts(session: Session, incident: Incident) -> str | None:
    plan = _plan(incident)
    if plan is None:
        return None
    try:
        due = report_parts.waiting(session, plan, incident)
    except NotFound:
        return None
    whose = "; ".join(f"{g} ({', '.join(report_parts.writers(plan, g))})" for g in due.groups)
    return f"report parts (revision {due.revision}): {whose}"


def _tasks(session: Session, incident: Incident) -> str | None:
    tasks = manual.list_tasks(session, incident.id, open_only=True)
    if not tasks:
        return None
    plan = _plan(incident)
    whose = "; ".join(
        f"{t.title} ({', '.join(manual.owners(plan, t)) if plan else t.owner or t.group})"
        for t in tasks
    )
    return f"tasks: {whose}"


Waiter = Callable[[Session, Incident], str | None]
WAITERS: tuple[Waiter, ...] = (_gate, _tasks, _report_parts)
"""Each says what an incident waits for, or None (a gate on a task is asked before it opens)."""


def next_clock(session: Session, incident_id: str) -> str:
    """The earliest regulatory deadline not yet met, "-" if none runs."""
    query = (
        select(RegulatoryClock)
        .where(
            RegulatoryClock.incident_id == incident_id,
            col(RegulatoryClock.notified_at).is_(None),
        )
        .order_by(col(RegulatoryClock.deadline_at))
    )
    clock = session.exec(query).first()
    if clock is None:
        return "-"
    return f"{clock.title}: due {_fmt(clock.deadline_at)}"


def _plan(incident: Incident) -> Plan | None:
    """The incident's plan; a plan file gone since the incident opened leaves its row plain."""
    try:
        return plan_for(incident)
    except Exception:  # noqa: BLE001  (the board shows the rest; the flow reports the plan)
        return None


def _fmt(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")
