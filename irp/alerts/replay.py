"""Refuse a replayed Standard Webhooks message: its `webhook-id` is remembered in irp's
database until its signed timestamp leaves the tolerance window, so every webhook process
sharing the database refuses it.

The id is recorded in the same transaction as the alerts it brought: a delivery that failed
(and rolled back) can be retried with the same id, as Standard Webhooks senders do.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col

from irp.db import insert_ignore
from models import SeenWebhookMessage
from models.base import utcnow

SWEEP_EVERY = timedelta(minutes=1)


class Replayed(Exception):
    """This message id was already accepted and is still inside its tolerance window."""


def remember_message(session: Session, message_id: str, expires_at: datetime) -> None:
    """Record `message_id` until `expires_at`, or raise Replayed if it is already recorded
    and has not expired (an expired row is taken over: its replay window has closed)."""
    key = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()
    table = SeenWebhookMessage.__table__  # type: ignore[attr-defined]
    if insert_ignore(session, table, {"id_sha256": key, "expires_at": expires_at}):
        return
    taken_over = session.execute(
        update(SeenWebhookMessage)
        .where(
            col(SeenWebhookMessage.id_sha256) == key,
            col(SeenWebhookMessage.expires_at) < utcnow(),
        )
        .values(expires_at=expires_at)
    )
    if taken_over.rowcount != 1:  # type: ignore[attr-defined]
        raise Replayed(message_id)


def forget_expired(session: Session, now: datetime | None = None) -> int:
    """Delete ids whose window has closed; returns how many."""
    gone = session.execute(
        delete(SeenWebhookMessage).where(col(SeenWebhookMessage.expires_at) < (now or utcnow()))
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]
