"""Sending an incident's notifications and keeping the record of every attempt.

`notify` renders each audience's message, stores it (redacted) as a Notification row, delivers
it outside any database transaction (a slow target must not hold SQLite's lock), then records
every attempt. A delivery that still fails goes on the timeline and stays in the failed list
for `resend`; nothing here raises into the incident.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

import apprise
from pydantic import SecretStr
from sqlmodel import Session, col, select

from irp.db import session_scope
from irp.errors import InvalidInput, IrpError, NotFound
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.notify import clocks, routing
from irp.notify.delivery import Attempt, DeliveryResult, deliver
from irp.notify.templates import MessageContext, render
from irp.plan.loader import get_plan, plan_for
from irp.redact import RedactingFilter, Redactor
from irp.response import actions
from models import Incident, Notification
from models.base import utcnow
from models.enums import ActionStatus
from models.plan import Plan

log = logging.getLogger("irp.notify")
log.addFilter(RedactingFilter())

Sleep = Callable[[float], None]
Clock = Callable[[], datetime]
SENT, FAILED, PENDING, SUPPRESSED, UNROUTED = "sent", "failed", "pending", "suppressed", "unrouted"


def redactor_for(plan: Plan) -> Redactor:
    """Built-in detectors plus the plan's own patterns."""
    return Redactor(plan.notifications.redaction_patterns)


def masked_target(url: str) -> str:
    """Apprise's privacy form of a URL (credentials starred), as stored on a row."""
    try:
        plugin = apprise.Apprise.instantiate(url)
    except Exception:  # a URL Apprise chokes on is still shown, masked
        plugin = None
    if plugin is None:
        return url.split("://", 1)[0] + "://****" if "://" in url else "****"
    return str(plugin.url(privacy=True))


def notify(
    incident_id: str,
    event: str,
    *,
    plan: Plan,
    notify_url: str | None = None,
    extra: dict[str, Any] | None = None,
    audiences: Iterable[str] = (),
    sleep: Sleep = time.sleep,
    clock: Clock = utcnow,
) -> list[int]:
    """Send `event` to its audiences (plan routes plus `audiences`); return the row ids.

    Never raises: an error is logged (redacted) and put on the timeline if possible.
    """
    try:
        prepared = _prepare(incident_id, event, plan, notify_url, extra or {}, tuple(audiences))
        if prepared is None:
            return []
        rows, urls, policy = prepared
        results = {
            row_id: deliver(url.get_secret_value(), title, body, sleep=sleep, clock=clock, **policy)
            for row_id, url, title, body in urls
        }
        _record_results(incident_id, event, rows, results, clock)
        return rows
    except Exception as exc:
        log.warning("notification %s for %s failed: %s", event, incident_id, exc)
        _record_error(incident_id, event, exc)
        return []


def _prepare(
    incident_id: str,
    event: str,
    plan: Plan,
    notify_url: str | None,
    extra: dict[str, Any],
    audiences: tuple[str, ...],
) -> tuple[list[int], list[tuple[int, SecretStr, str, str]], dict[str, Any]] | None:
    """Start clocks the facts now trigger, then render and store the rows in one transaction;
    deliveries happen after it commits."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        clocks.start_clocks(session, incident, plan)
        if not plan.notifications.enabled:
            return None
        ctx = context(session, incident, plan, event, extra)
        redactor = redactor_for(plan)
        rows: list[int] = []
        sends: list[tuple[int, SecretStr, str, str]] = []
        for route in routing.routes(
            plan, event, drill=incident.drill, notify_url=notify_url, extra=audiences
        ):
            message = render(route.template, ctx, route.audience, redactor)
            row = Notification(
                incident_id=incident_id,
                event=event,
                audience=route.audience,
                target=masked_target(route.url.get_secret_value()) if route.url else "(none)",
                title=message.title,
                body=message.body,
                status=PENDING if route.url else (SUPPRESSED if incident.drill else UNROUTED),
                attempts=[] if route.url else [{"note": route.reason}],
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            rows.append(row.id)
            if route.url is not None:
                sends.append((row.id, route.url, message.title, message.body))
        policy = plan.notifications.delivery.model_dump()
    return rows, sends, policy


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


def _attempt_dicts(attempts: list[Attempt], offset: int = 0) -> list[dict[str, Any]]:
    out = []
    for attempt in attempts:
        data = asdict(attempt)
        data["number"] = attempt.number + offset
        data["started_at"] = attempt.started_at.isoformat()
        data["finished_at"] = attempt.finished_at.isoformat()
        out.append(data)
    return out


def _apply(row: Notification, result: DeliveryResult, clock: Clock) -> None:
    numbered = [a for a in row.attempts if "number" in a]
    row.attempts = [*row.attempts, *_attempt_dicts(result.attempts, len(numbered))]
    if not result.attempts:
        row.attempts = [*row.attempts, {"ok": False, "error": result.error}]
    row.target = result.target
    row.status = SENT if result.ok else FAILED
    if result.ok:
        row.delivered_at = clock()


def _record_results(
    incident_id: str,
    event: str,
    rows: list[int],
    results: dict[int, DeliveryResult],
    clock: Clock,
) -> None:
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        counts: dict[str, int] = {}
        for row_id in rows:
            row = session.get(Notification, row_id)
            if row is None:
                continue
            if row_id in results:
                _apply(row, results[row_id], clock)
                session.add(row)
                if row.status == FAILED:
                    _failed_event(session, incident, row)
            counts[row.status] = counts.get(row.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        timeline.record(
            session,
            incident_id,
            incident.stage,
            "notified",
            f"Notifications for {event}: {summary or 'no audience'}",
            data={"event": event, "counts": counts},
        )


def _failed_event(session: Session, incident: Incident, row: Notification) -> None:
    last = row.attempts[-1] if row.attempts else {}
    timeline.record(
        session,
        incident.id,
        incident.stage,
        "notification_failed",
        f"Notification #{row.id} ({row.event} to {row.audience}, {row.target}) failed after "
        f"{len([a for a in row.attempts if 'number' in a])} attempt(s): {last.get('error')}; "
        f"resend with `irp notifications resend {row.id}`",
        data={"notification_id": row.id, "event": row.event, "audience": row.audience},
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
        _apply(row, result, clock)
        session.add(row)
        if row.incident_id is not None:
            incident = incidents.get_incident(session, row.incident_id)
            if row.status == FAILED:
                _failed_event(session, incident, row)
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
            sleep=sleep,
            clock=clock,
        )
    return sent
