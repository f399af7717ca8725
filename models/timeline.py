"""The append-only timeline: the truth reports and audits are computed from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import json_field, timestamp


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    at: datetime = timestamp(nullable=False, default_now=True)
    stage: str = Field(max_length=40)
    kind: str = Field(max_length=60, index=True)
    actor: str = Field(max_length=200)
    message: str = Field(max_length=4000)
    data: dict[str, Any] = json_field()
