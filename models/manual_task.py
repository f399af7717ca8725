"""Work for people (issue 11): a playbook task a group does and a person answers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import enum_type, json_field, timestamp


class TaskStatus(StrEnum):
    open = "open"
    done = "done"
    failed = "failed"
    not_applicable = "not_applicable"


class ManualTask(SQLModel, table=True):
    """One open or answered task per (incident, playbook key): opening it again is a no-op."""

    __tablename__ = "manual_task"
    __table_args__ = (UniqueConstraint("incident_id", "key", name="uq_manual_task_incident_key"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    key: str = Field(max_length=80)
    title: str = Field(max_length=200)
    group: str = Field(max_length=60)
    owner: str | None = Field(default=None, max_length=60, description="Role id, if narrowed.")
    instructions: str = Field(default="", max_length=4000)
    needs: list[str] = json_field(list)
    status: TaskStatus = Field(default=TaskStatus.open, sa_type=enum_type(TaskStatus))
    opened_at: datetime = timestamp(nullable=False, default_now=True)
    due_at: datetime = timestamp(nullable=False)
    answered_at: datetime | None = timestamp()
    answered_by: str | None = Field(default=None, max_length=200)
    answered_role: str | None = Field(default=None, max_length=60)
    note: str = Field(default="", max_length=4000)
    evidence: str | None = Field(default=None, max_length=1000)
    reminded_at: datetime | None = timestamp()
    data: dict[str, Any] = json_field()
