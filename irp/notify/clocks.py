"""Regulatory clocks (DOMAIN.md): legal deadlines that start at detection, not at grading
(a summary due after the incident, such as CAC's 30 days, starts at closure).

A clock starts when the incident's facts match a plan rule (checked again as facts grow, e.g.
after grading), reminds at shares of its window, and stops when someone records the
notification as sent. Every function takes `now` so tests drive time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, select

from irp.db import insert_ignore
from irp.errors import InvalidInput, NotFound
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.incidents.grading import derive_facts
from models import Incident
from models.base import utcnow
from models.clock import ClockReminder, RegulatoryClock
from models.enums import IncidentStatus, NationalGrade
from models.plan import Plan
from models.plan_notify import ClockRule

ClockStatus = Literal["running", "met", "missed"]
PlanOf = Callable[[Incident], Plan]
"""The plan an incident runs under: its flow's own, or `plan_for` outside the flow."""


@dataclass(frozen=True)
class Reminder:
    """A reminder due now: which clock, at what share of its window."""

    clock_id: int
    incident_id: str
    rule: str
    share: float
    deadline_at: datetime
    remind: tuple[str, ...]
    shares: tuple[float, ...]
    """Every reminder share of the rule: the ones up to `share` are done once this is sent."""


def clock_facts(incident: Incident, plan: Plan) -> dict[str, Any]:
    """The facts clock rules test: the report's, derived ones, the grade and the type."""
    facts = derive_facts(incident.facts, plan.grading)
    grade = incident.national_grade
    facts["national_grade_rank"] = grade.rank if grade is not None else None
    facts["incident_type"] = incident.type.value
    return facts


def matching_rules(incident: Incident, plan: Plan) -> dict[str, ClockRule]:
    facts = clock_facts(incident, plan)
    return {
        key: rule
        for key, rule in plan.notifications.clocks.items()
        if any(c.holds(facts) for c in rule.any)
    }


def window_minutes(rule: ClockRule, plan: Plan) -> float:
    """CAC art. 7: critical information infrastructure gets the shorter window if the rule has one."""
    if plan.notifications.critical_information_infrastructure and rule.cii_window_minutes:
        return rule.cii_window_minutes
    return rule.window_minutes


def clocks(session: Session, incident_id: str) -> list[RegulatoryClock]:
    query = (
        select(RegulatoryClock)
        .where(RegulatoryClock.incident_id == incident_id)
        .order_by(col(RegulatoryClock.deadline_at), col(RegulatoryClock.id))
    )
    return list(session.exec(query))


def start_clocks(session: Session, incident: Incident, plan: Plan) -> list[RegulatoryClock]:
    """Start every matching clock not yet started; idempotent. Started at detection, or at
    closure for a rule that `starts: closure` (not before the incident closes)."""
    existing = {c.rule for c in clocks(session, incident.id)}
    started: list[RegulatoryClock] = []
    for key, rule in matching_rules(incident, plan).items():
        start = _start_of(rule, incident)
        if key in existing or start is None:
            continue
        minutes = window_minutes(rule, plan)
        clock = RegulatoryClock(
            incident_id=incident.id,
            rule=key,
            title=rule.title,
            source=rule.source,
            authority=rule.authority,
            window_minutes=minutes,
            started_at=start,
            deadline_at=start + timedelta(minutes=minutes),
        )
        session.add(clock)
        session.flush()
        timeline.record(
            session,
            incident.id,
            incident.stage,
            "clock_started",
            f"Regulatory clock {key} ({rule.title}, {rule.source}) started at {rule.starts}: "
            f"notify {rule.authority} by {_fmt(clock.deadline_at)}",
            data={"rule": key, "deadline_at": clock.deadline_at.isoformat()},
        )
        started.append(clock)
    return started


def _start_of(rule: ClockRule, incident: Incident) -> datetime | None:
    """When the rule's window opens; None while a closure clock's incident is not closed."""
    if rule.starts == "detection":
        return incident.detected_at
    closed = incident.status == IncidentStatus.closed
    return incident.closed_at if closed else None


def status(clock: RegulatoryClock, now: datetime | None = None) -> ClockStatus:
    """met: notified by the deadline; missed: notified late or not at all by it; else running."""
    if clock.notified_at is not None:
        return "met" if clock.notified_at <= clock.deadline_at else "missed"
    return "missed" if (now or utcnow()) > clock.deadline_at else "running"


def due_reminders(
    session: Session, plan_of: PlanOf, now: datetime | None = None, incident_id: str | None = None
) -> list[Reminder]:
    """One reminder per unstopped clock: the highest share of its window already passed and
    not yet reminded (a late check does not send the 50 % reminder after the 90 % one)."""
    now = now or utcnow()
    query = select(RegulatoryClock).where(col(RegulatoryClock.notified_at).is_(None))
    if incident_id is not None:
        query = query.where(RegulatoryClock.incident_id == incident_id)
    found: list[Reminder] = []
    for clock in session.exec(query):
        incident = incidents.get_incident(session, clock.incident_id)
        plan_shares, remind = _rule_reminders(plan_of(incident), clock.rule)
        window = clock.deadline_at - clock.started_at
        due = [
            s
            for s in plan_shares
            if clock.started_at + window * s <= now and s not in clock.reminders_sent
        ]
        if due and clock.id is not None:
            found.append(
                Reminder(
                    clock.id,
                    clock.incident_id,
                    clock.rule,
                    max(due),
                    clock.deadline_at,
                    remind,
                    tuple(plan_shares),
                )
            )
    return found


def claim_reminder(session: Session, reminder: Reminder) -> bool:
    """Claim the reminder before sending it: False if another process (another host's watch,
    a flow at a stage boundary) already did. Records it and every lower share as done, so
    none is sent late; the unique (clock, share) row makes the claim once across hosts."""
    clock = session.get(RegulatoryClock, reminder.clock_id)
    if clock is None:
        return False
    row = {"clock_id": clock.id, "share": reminder.share, "claimed_at": utcnow()}
    if not insert_ignore(session, ClockReminder.__table__, row):  # type: ignore[attr-defined]
        return False
    done = set(clock.reminders_sent) | {s for s in reminder.shares if s <= reminder.share}
    clock.reminders_sent = sorted(done)
    session.add(clock)
    return True


def stop_clock(
    session: Session,
    incident_id: str,
    rule: str,
    *,
    by: str,
    reference: str,
    at: datetime | None = None,
    now: datetime | None = None,
) -> RegulatoryClock:
    """Record the notification to the authority as sent: who, when (default now), reference."""
    if not by.strip():
        raise InvalidInput("by: say who sent the notification")
    if not reference.strip():
        raise InvalidInput("reference: give the filing or message reference")
    now = now or utcnow()
    at = at or now
    if at.tzinfo is None:
        raise InvalidInput("at: give a time zone (e.g. 2026-11-25T03:10:00+08:00)")
    incident = incidents.get_incident(session, incident_id)
    by_rule = {c.rule: c for c in clocks(session, incident_id)}
    clock = by_rule.get(rule)
    if clock is None:
        known = ", ".join(by_rule) or "none started"
        raise NotFound(f"{incident_id}: no clock {rule!r} (clocks: {known})")
    if clock.notified_at is not None:
        raise InvalidInput(
            f"rule: clock {rule} was already stopped by {clock.notified_by} "
            f"(reference {clock.reference})"
        )
    if at < clock.started_at:
        raise InvalidInput(f"at: {at.isoformat()} is before the clock started")
    if at > now:
        raise InvalidInput("at: the notification cannot be sent in the future")
    clock.notified_at, clock.notified_by, clock.reference = at, by, reference
    clock.recorded_at = now
    session.add(clock)
    verdict = status(clock, now)
    timeline.record(
        session,
        incident_id,
        incident.stage,
        "clock_stopped",
        f"Regulatory clock {rule}: {clock.authority} notified at {_fmt(at)} by {by}, "
        f"reference {reference} ({verdict}; deadline {_fmt(clock.deadline_at)})",
        actor=by,
        data={"rule": rule, "status": verdict, "reference": reference},
    )
    return clock


def file_drill_notices(
    session: Session, incident: Incident, *, by: str, now: datetime | None = None
) -> list[RegulatoryClock]:
    """Drill policy: record each running clock's notification as filed (simulated), so a
    drill exercises the clock without writing to a real authority."""
    if not incident.drill:
        raise InvalidInput(
            f"{incident.id}: only a drill's notices may be filed by the drill policy"
        )
    return [
        stop_clock(
            session, incident.id, c.rule, by=by, reference=f"DRILL-{incident.id}-{c.rule}", now=now
        )
        for c in clocks(session, incident.id)
        if c.notified_at is None
    ]


def clock_rows(
    session: Session, incident_id: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """What `irp incidents show` and the report list for each clock."""
    now = now or utcnow()
    return [
        {
            "rule": c.rule,
            "title": c.title,
            "source": c.source,
            "authority": c.authority,
            "status": status(c, now),
            "started_at": c.started_at,
            "deadline_at": c.deadline_at,
            "notified_at": c.notified_at,
            "notified_by": c.notified_by or "",
            "reference": c.reference or "",
            "remaining": _remaining(c, now),
        }
        for c in clocks(session, incident_id)
    ]


def describe(row: dict[str, Any]) -> str:
    """One line per clock, for messages and text views."""
    if row["status"] == "running":
        return (
            f"{row['rule']} ({row['title']}): RUNNING, notify {row['authority']} "
            f"by {_fmt(row['deadline_at'])} ({row['remaining']} left)"
        )
    how = (
        f"notified {_fmt(row['notified_at'])} by {row['notified_by']}, ref {row['reference']}"
        if row["notified_at"]
        else "not notified"
    )
    return f"{row['rule']} ({row['title']}): {row['status'].upper()}, {how}; deadline {_fmt(row['deadline_at'])}"


def grade_label(grade: NationalGrade | None) -> str:
    return grade.value if grade is not None else "not graded yet"


def _rule_reminders(plan: Plan, rule_name: str) -> tuple[list[float], tuple[str, ...]]:
    """Reminder shares and audiences from the incident's plan; DOMAIN.md defaults otherwise."""
    rule = plan.notifications.clocks.get(rule_name)
    if rule is None:
        return [0.5, 0.9, 1.0], ("legal", "leadership")
    return sorted(rule.reminders_at), tuple(rule.remind)


def _remaining(clock: RegulatoryClock, now: datetime) -> str:
    if clock.notified_at is not None:
        return ""
    seconds = (clock.deadline_at - now).total_seconds()
    sign = "-" if seconds < 0 else ""
    minutes = int(abs(seconds) // 60)
    return f"{sign}{minutes // 60}h{minutes % 60:02d}m"


def _fmt(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"
