"""Notifications: every message irp sent or tried to send, with its attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import json_field, timestamp


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str | None = Field(
        default=None, foreign_key="incident.id", index=True, max_length=20
    )
    event: str = Field(max_length=60)
    audience: str = Field(max_length=60)
    target: str = Field(max_length=1000, description="masked target URL (privacy form)")
    title: str = Field(max_length=500)
    body: str = Field(max_length=20_000)
    status: str = Field(
        default="pending", max_length=20, index=True, description="pending, sent, failed"
    )
    attempts: list[dict[str, Any]] = json_field(list)
    created_at: datetime = timestamp(nullable=False, default_now=True)
    delivered_at: datetime | None = timestamp()
