"""Notifications: every message irp sent or tried to send, with its attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import json_field, timestamp

TITLE_MAX = 500
BODY_MAX = 20_000


class Notification(SQLModel, table=True):
    """A message to send (an outbox row, `pending` until the delivery worker claims it) and
    what became of it."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str | None = Field(
        default=None, foreign_key="incident.id", index=True, max_length=20
    )
    event: str = Field(max_length=60)
    audience: str = Field(max_length=60)
    target: str = Field(max_length=1000, description="masked target URL (privacy form)")
    title: str = Field(max_length=TITLE_MAX)
    body: str = Field(max_length=BODY_MAX)
    status: str = Field(
        default="pending",
        max_length=20,
        index=True,
        description="pending, sending (claimed), sent, failed (dead letter), suppressed, unrouted",
    )
    route: str | None = Field(
        default=None,
        max_length=2000,
        description="where to send, as configured: `${VAR}` references unexpanded, or "
        "`mask:<target>` for a URL with credentials, found again among the plan's URLs",
    )
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_at: datetime | None = timestamp()
    attempts: list[dict[str, Any]] = json_field(list)
    created_at: datetime = timestamp(nullable=False, default_now=True)
    delivered_at: datetime | None = timestamp()
