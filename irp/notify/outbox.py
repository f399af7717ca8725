"""The notification outbox: rows waiting to be sent, claimed by one delivery worker each.

A caller stores a `pending` Notification (with the route as configured, `${VAR}` unexpanded)
in the transaction of the event that causes it and goes on; a worker claims rows and sends
them with the plan's retry, Retry-After and dead-letter (`failed`) rules. A claim is
PostgreSQL's `SELECT ... FOR UPDATE SKIP LOCKED` or, on SQLite (one writer at a time), a
conditional UPDATE per row, so two workers never send one row. A claim older than `LEASE`
belongs to a worker that died: the row is claimed again (sent twice at worst, never lost).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import apprise
from pydantic import SecretStr
from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.notify import routing
from irp.notify.delivery import Attempt, DeliveryResult, deliver
from irp.plan.env_refs import ENV_REFERENCE
from irp.plan.loader import get_plan, plan_for
from irp.redact import RedactingFilter
from models import Incident, Notification
from models.base import utcnow
from models.plan import Plan

log = logging.getLogger("irp.notify")
log.addFilter(RedactingFilter())

Sleep = Callable[[float], None]
Clock = Callable[[], datetime]
SENT, FAILED, PENDING, SENDING = "sent", "failed", "pending", "sending"
SUPPRESSED, UNROUTED = "suppressed", "unrouted"
MASK_PREFIX = "mask:"
LEASE = timedelta(minutes=10)
"""Longer than one delivery with the plan's retries can take (4 attempts, 60 s waits)."""


def worker_name() -> str:
    """This process, as a row's `claimed_by` shows it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def masked_target(url: str) -> str:
    """Apprise's privacy form of a URL (credentials starred), as stored on a row."""
    plugin = _plugin(url)
    if plugin is None:
        return url.split("://", 1)[0] + "://****" if "://" in url else "****"
    return str(plugin.url(privacy=True))


def route_reference(route: routing.Route) -> str | None:
    """What a row keeps to find its URL again: the configured text when it holds no secret
    (`${VAR}` references, or nothing Apprise would star), else the masked form."""
    if route.url is None:
        return None
    if ENV_REFERENCE.search(route.ref):
        return route.ref
    url = route.url.get_secret_value()
    plugin = _plugin(url)
    if plugin is not None and plugin.url(privacy=True) == plugin.url(privacy=False):
        return route.ref or url
    return MASK_PREFIX + masked_target(url)


def _plugin(url: str) -> Any:
    try:
        return apprise.Apprise.instantiate(url)
    except Exception:  # a URL Apprise chokes on is still shown, masked
        return None


def claim(session: Session, worker: str, limit: int, now: datetime | None = None) -> list[int]:
    """Claim up to `limit` rows for `worker` (pending, or abandoned past the lease)."""
    now = now or utcnow()
    claimable = or_(
        col(Notification.status) == PENDING,
        and_(col(Notification.status) == SENDING, col(Notification.claimed_at) < now - LEASE),
    )
    query = select(Notification.id).where(claimable).order_by(col(Notification.id)).limit(limit)
    values = {"status": SENDING, "claimed_by": worker, "claimed_at": now}
    if session.get_bind().dialect.name == "postgresql":
        ids = [i for i in session.exec(query.with_for_update(skip_locked=True)) if i is not None]
        if ids:
            session.execute(
                update(Notification).where(col(Notification.id).in_(ids)).values(**values)
            )
        return ids
    claimed = []
    for row_id in list(session.exec(query)):
        taken = session.execute(
            update(Notification).where(col(Notification.id) == row_id, claimable).values(**values)
        )
        if taken.rowcount == 1 and row_id is not None:  # type: ignore[attr-defined]
            claimed.append(row_id)
    return claimed


def send_claimed(
    row_id: int,
    worker: str,
    *,
    db_url: str | None = None,
    sleep: Sleep = time.sleep,
    clock: Clock = utcnow,
) -> str | None:
    """Deliver one row this worker claimed and record the outcome; its new status, or None
    if the row is not this worker's any more."""
    with session_scope(db_url) as session:
        row = session.get(Notification, row_id)
        if row is None or row.status != SENDING or row.claimed_by != worker:
            return None
        plan = _plan_of(session, row)
        url = _url_of(row, plan)
        title, body = row.title, row.body
        policy = plan.notifications.delivery.model_dump()
    if isinstance(url, str):
        result = DeliveryResult(target="", ok=False, error=url)
    else:
        result = deliver(url.get_secret_value(), title, body, sleep=sleep, clock=clock, **policy)
    with session_scope(db_url) as session:
        row = session.get(Notification, row_id)
        assert row is not None
        apply_result(row, result, clock)
        session.add(row)
        if row.status == FAILED and row.incident_id is not None:
            failed_event(session, incidents.get_incident(session, row.incident_id), row)
        return row.status


def drain(
    worker: str | None = None,
    *,
    batch: int = 20,
    sleep: Sleep = time.sleep,
    clock: Clock = utcnow,
) -> int:
    """Claim and send rows one by one until none is left; how many were sent or failed.
    For callers without a worker thread (the CLI, tests)."""
    worker = worker or worker_name()
    done = 0
    while True:
        with session_scope() as session:
            ids = claim(session, worker, batch, clock())
        if not ids:
            return done
        for row_id in ids:
            done += send_claimed(row_id, worker, sleep=sleep, clock=clock) is not None


def waiting(session: Session, incident_id: str | None = None) -> int:
    """Rows not yet sent (pending or being sent), of one incident or all."""
    query = select(Notification.id).where(col(Notification.status).in_((PENDING, SENDING)))
    if incident_id is not None:
        query = query.where(Notification.incident_id == incident_id)
    return len(list(session.exec(query)))


def _plan_of(session: Session, row: Notification) -> Plan:
    if row.incident_id is None:
        return get_plan(None)
    return plan_for(incidents.get_incident(session, row.incident_id))


def _url_of(row: Notification, plan: Plan) -> SecretStr | str:
    """The row's URL, expanded now; or why it cannot be sent (a dead letter)."""
    route = row.route
    if route is None or route.startswith(MASK_PREFIX):
        masked = route[len(MASK_PREFIX) :] if route else row.target
        for known in routing.known_urls(plan):
            if masked_target(known.get_secret_value()) == masked:
                return known
        return f"its target {masked} is not in the plan any more; resend with --to URL"
    expanded = routing.resolve_url(SecretStr(route))
    return expanded if expanded is not None else f"an environment variable of {route} is unset"


def _attempt_dicts(attempts: list[Attempt], offset: int = 0) -> list[dict[str, Any]]:
    out = []
    for attempt in attempts:
        data = asdict(attempt)
        data["number"] = attempt.number + offset
        data["started_at"] = attempt.started_at.isoformat()
        data["finished_at"] = attempt.finished_at.isoformat()
        out.append(data)
    return out


def apply_result(row: Notification, result: DeliveryResult, clock: Clock) -> None:
    """Append the attempts and settle the status: sent, or failed (the dead letter)."""
    numbered = [a for a in row.attempts if "number" in a]
    row.attempts = [*row.attempts, *_attempt_dicts(result.attempts, len(numbered))]
    if not result.attempts:
        row.attempts = [*row.attempts, {"ok": False, "error": result.error}]
    row.target = result.target or row.target
    row.status = SENT if result.ok else FAILED
    if result.ok:
        row.delivered_at = clock()


def failed_event(session: Session, incident: Incident, row: Notification) -> None:
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
