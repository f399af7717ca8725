"""Action runs: one row per playbook action per incident (the idempotency key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import enum_type, json_field, timestamp
from models.enums import ActionStatus


class ActionRun(SQLModel, table=True):
    __tablename__ = "action_run"
    __table_args__ = (
        UniqueConstraint("incident_id", "action", name="uq_action_run_incident_action"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    action: str = Field(max_length=80)
    title: str = Field(max_length=200)
    stage: str = Field(max_length=40)
    group: str = Field(max_length=60)
    executor: str = Field(max_length=20)
    containment: bool = False
    status: ActionStatus = Field(default=ActionStatus.running, sa_type=enum_type(ActionStatus))
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=4000)
    result: dict[str, Any] = json_field()
    undo_status: str | None = Field(default=None, max_length=20)
    undo_note: str | None = Field(default=None, max_length=1000)
    started_at: datetime = timestamp(nullable=False, default_now=True)
    finished_at: datetime | None = timestamp()
