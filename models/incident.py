"""The incident: one row per incident, a timestamp per milestone (DESIGN.md principle 2)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import enum_type, json_field, timestamp
from models.enums import IncidentStatus, IncidentType, NationalGrade, Priority, Stage


def new_incident_id() -> str:
    return f"INC-{secrets.token_hex(4).upper()}"


class IncidentBase(SQLModel):
    type: IncidentType = Field(index=True, sa_type=enum_type(IncidentType))
    subtype: str | None = Field(default=None, max_length=40)
    summary: str = Field(max_length=500)
    reporter: str = Field(max_length=200)
    priority: Priority | None = Field(default=None, sa_type=enum_type(Priority))
    national_grade: NationalGrade | None = Field(default=None, sa_type=enum_type(NationalGrade))
    status: IncidentStatus = Field(
        default=IncidentStatus.open, index=True, sa_type=enum_type(IncidentStatus)
    )
    stage: Stage = Field(default=Stage.report, sa_type=enum_type(Stage))
    drill: bool = Field(default=False, index=True)
    commander: str | None = Field(default=None, max_length=200)
    service: str | None = Field(default=None, max_length=200, index=True)


class Incident(IncidentBase, table=True):
    id: str = Field(default_factory=new_incident_id, primary_key=True, max_length=20)
    description: str = Field(default="", max_length=20_000)
    facts: dict[str, Any] = json_field()
    scope: dict[str, Any] = json_field()
    options: dict[str, Any] = json_field()
    flow_run_id: str | None = Field(default=None, max_length=64)
    dedup_key: str | None = Field(default=None, unique=True, max_length=400)
    occurred_at: datetime | None = timestamp()
    detected_at: datetime = timestamp(nullable=False, index=True)
    reported_at: datetime | None = timestamp()
    activated_at: datetime | None = timestamp()
    contained_at: datetime | None = timestamp()
    resolved_at: datetime | None = timestamp()
    closed_at: datetime | None = timestamp()
    created_at: datetime = timestamp(nullable=False, default_now=True)


class IncidentPublic(IncidentBase):
    """What `irp incidents list --json` and the API show."""

    id: str
    detected_at: datetime
    occurred_at: datetime | None
    activated_at: datetime | None
    contained_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    flow_run_id: str | None
