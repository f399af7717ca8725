"""Queueing an incident's notifications and sending them again on request.

`enqueue` renders each audience's message and stores it (redacted) as a pending Notification
row in the caller's transaction; the delivery worker (irp.notify.worker) sends it outside any
transaction (a slow target must not hold SQLite's lock) and records every attempt. A delivery
that still fails goes on the timeline and stays in the failed list for `resend`; nothing here
raises into the incident.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from irp.db import session_scope
from irp.errors import InvalidInput, IrpError, NotFound
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.notify import clocks, outbox, routing, worker
from irp.notify.delivery import deliver
from irp.notify.outbox import (
    FAILED,
    PENDING,
    SENDING,
    SENT,
    SUPPRESSED,
    UNROUTED,
    masked_target,
)
from irp.notify.templates import MessageContext, render
from irp.plan.loader import get_plan, plan_for
from irp.redact import RedactingFilter, Redactor
from irp.response import actions
from models import Incident, Notification
from models.base import utcnow
from models.enums import ActionStatus
from models.notification import BODY_MAX, TITLE_MAX
from models.plan import Plan

log = logging.getLogger("irp.notify")
log.addFilter(RedactingFilter())

Sleep = Callable[[float], None]
Clock = Callable[[], datetime]


def redactor_for(plan: Plan) -> Redactor:
    """Built-in detectors plus the plan's own patterns."""
    return Redactor(plan.notifications.redaction_patterns)


def notify(
    incident_id: str,
    event: str,
    *,
    plan: Plan,
    notify_url: str | None = None,
    extra: dict[str, Any] | None = None,
    audiences: Iterable[str] = (),
    wait: bool = True,
    sleep: Sleep = time.sleep,
    clock: Clock = utcnow,
) -> list[int]:
    """Queue `event` for its audiences (plan routes plus `audiences`); return the row ids.

    `wait=False` (a flow) leaves the rows to the delivery worker and goes on; `wait=True`
    stores them already claimed by this call and sends them here. Never raises: an error is logged (redacted) and put on the
    timeline if possible.
    """
    sender = f"{outbox.worker_name()}:{uuid.uuid4().hex[:8]}" if wait else None
    try:
        with session_scope() as session:
            incident = incidents.get_incident(session, incident_id)
            rows = enqueue(
                session,
                incident,
                event,
                plan,
                notify_url,
                extra or {},
                tuple(audiences),
                claimed_by=sender,
            )
        if sender is None:
            worker.kick()
            return rows
        for row_id in rows:
            outbox.send_claimed(row_id, sender, sleep=sleep, clock=clock)
        return rows
    except Exception as exc:
        log.warning("notification %s for %s failed: %s", event, incident_id, exc)
        _record_error(incident_id, event, exc)
        return []


def enqueue(
    session: Session,
    incident: Incident,
    event: str,
    plan: Plan,
    notify_url: str | None = None,
    extra: dict[str, Any] | None = None,
    audiences: tuple[str, ...] = (),
    *,
    claimed_by: str | None = None,
) -> list[int]:
    """Start clocks the facts now trigger, render and store the rows as `pending`, in the
    caller's transaction (the event's own); the worker sends them after it commits. A caller
    that sends them itself stores them already claimed (`claimed_by`), so no worker takes one."""
    clocks.start_clocks(session, incident, plan)
    if not plan.notifications.enabled:
        return []
    ctx = context(session, incident, plan, event, extra or {})
    redactor = redactor_for(plan)
    rows: list[int] = []
    counts: dict[str, int] = {}
    for route in routing.routes(
        plan, event, drill=incident.drill, notify_url=notify_url, extra=audiences
    ):
        message = render(route.template, ctx, route.audience, redactor)
        row = Notification(
            incident_id=incident.id,
            event=event,
            audience=route.audience,
            target=masked_target(route.url.get_secret_value()) if route.url else "(none)",
            route=outbox.route_reference(route),
            title=_fit(message.title, TITLE_MAX),
            body=_fit(message.body, BODY_MAX),
            status=PENDING if route.url else (SUPPRESSED if incident.drill else UNROUTED),
            attempts=[] if route.url else [{"note": route.reason}],
        )
        if route.url and claimed_by is not None:
            row.status, row.claimed_by, row.claimed_at = SENDING, claimed_by, utcnow()
        session.add(row)
        session.flush()
        assert row.id is not None
        rows.append(row.id)
        counts[row.status] = counts.get(row.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    timeline.record(
        session,
        incident.id,
        incident.stage,
        "notified",
        f"Notifications for {event}: {summary or 'no audience'}",
        data={"event": event, "counts": counts},
    )
    return rows


def context(
    session: Session, incident: Incident, plan: Plan, event: str, extra: dict[str, Any]
) -> MessageContext:
    """Everything a template may use, read once per event."""
    done = (ActionStatus.succeeded, ActionStatus.undone, ActionStatus.kept)
    measures = [r.title for r in actions.runs(session, incident.id) if r.status in done]
    return MessageContext(
        incident=incident,
        plan=plan,
        event=event,
        clocks=clocks.clock_rows(session, incident.id),
        measures=measures,
        extra=extra,
    )


def _record_error(incident_id: str, event: str, exc: Exception) -> None:
    try:
        with session_scope() as session:
            incident = incidents.get_incident(session, incident_id)
            timeline.record(
                session,
                incident_id,
                incident.stage,
                "notification_error",
                f"Notifications for {event} could not be prepared: {type(exc).__name__}: {exc}",
            )
    except Exception as again:  # the database itself is down: the log is all we have
        log.warning("could not record the notification error for %s: %s", incident_id, again)


def failed(session: Session, incident_id: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.status == FAILED)
    if incident_id is not None:
        query = query.where(Notification.incident_id == incident_id)
    return list(session.exec(query.order_by(col(Notification.id))))


def resend(
    notification_id: int,
    *,
    url: str | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = utcnow,
) -> Notification:
    """Deliver a failed (or never routed) message again, to its target or to `url`.

    The stored row keeps only a masked target, so the real URL is found again among the
    plan's URLs by its mask; a URL from outside the plan (a drill's --notify) must be given.
    """
    with session_scope() as session:
        row = session.get(Notification, notification_id)
        if row is None:
            raise NotFound(f"no notification {notification_id}")
        if row.status == SENT:
            raise InvalidInput(f"ID: notification {notification_id} was already delivered")
        plan = get_plan(None)
        if row.incident_id is not None:
            plan = plan_for(incidents.get_incident(session, row.incident_id))
        if url is None:
            matches = [
                u
                for u in routing.known_urls(plan)
                if masked_target(u.get_secret_value()) == row.target
            ]
            if not matches:
                raise IrpError(
                    f"notification {notification_id}: its target {row.target} is not in the "
                    "plan any more; give one with --to URL"
                )
            url = matches[0].get_secret_value()
        title, body = row.title, row.body
        policy = plan.notifications.delivery.model_dump()
    result = deliver(url, title, body, sleep=sleep, clock=clock, **policy)
    with session_scope() as session:
        row = session.get(Notification, notification_id)
        assert row is not None
        outbox.apply_result(row, result, clock)
        session.add(row)
        if row.incident_id is not None:
            incident = incidents.get_incident(session, row.incident_id)
            if row.status == FAILED:
                outbox.failed_event(session, incident, row)
            else:
                timeline.record(
                    session,
                    incident.id,
                    incident.stage,
                    "notification_resent",
                    f"Notification #{row.id} ({row.event} to {row.audience}) resent to {row.target}",
                    data={"notification_id": row.id},
                )
        return row


def tick_clocks(
    incident_id: str | None,
    plan_of: clocks.PlanOf,
    *,
    notify_url: str | None = None,
    wait: bool = True,
    sleep: Sleep = time.sleep,
    clock: Clock = utcnow,
) -> int:
    """Start the incident's clocks whose trigger now matches, then send due reminders (for one
    incident, or all with `incident_id=None`); return how many reminders went out.

    Call it at every stage boundary and periodically from the stack. Each reminder is claimed
    in the database before it is sent (clocks.claim_reminder), so callers on several hosts
    send it once; a process that dies between claim and delivery loses that reminder rather
    than sending it twice (the next share still comes). Database errors propagate (the
    caller's retry policy applies); deliveries never raise.
    """
    with session_scope() as session:
        if incident_id is not None:
            incident = incidents.get_incident(session, incident_id)
            clocks.start_clocks(session, incident, plan_of(incident))
        due = clocks.due_reminders(session, plan_of, clock(), incident_id)
        plans = {
            r.incident_id: plan_of(incidents.get_incident(session, r.incident_id)) for r in due
        }
    sent = 0
    for reminder in due:
        with session_scope() as session:
            if not clocks.claim_reminder(session, reminder):
                continue  # another process sends this one
        sent += 1
        notify(
            reminder.incident_id,
            "clock_reminder",
            plan=plans[reminder.incident_id],
            notify_url=notify_url,
            extra={
                "rule": reminder.rule,
                "share": reminder.share,
                "deadline_at": reminder.deadline_at,
            },
            audiences=reminder.remind,
            wait=wait,
            sleep=sleep,
            clock=clock,
        )
    return sent


def _fit(text: str, limit: int) -> str:
    """Cut to the column's size, saying so: an alert may carry 20,000 characters of summary,
    and a message is for reading; the report keeps the whole record."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
