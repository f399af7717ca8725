"""Regulatory clocks: one row per legal deadline an incident has started (DOMAIN.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import json_field, timestamp


class RegulatoryClock(SQLModel, table=True):
    """Started at detection; stopped by recording the notification as sent (who, when, ref)."""

    __tablename__ = "regulatory_clock"
    __table_args__ = (UniqueConstraint("incident_id", "rule", name="uq_clock_incident_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    rule: str = Field(max_length=60)
    title: str = Field(max_length=200)
    source: str = Field(max_length=300)
    authority: str = Field(max_length=300)
    window_minutes: float
    started_at: datetime = timestamp(nullable=False)
    deadline_at: datetime = timestamp(nullable=False, index=True)
    reminders_sent: list[float] = json_field(list)
    notified_at: datetime | None = timestamp()
    notified_by: str | None = Field(default=None, max_length=200)
    reference: str | None = Field(default=None, max_length=300)
    recorded_at: datetime | None = timestamp()


class ClockReminder(SQLModel, table=True):
    """One row per reminder sent for a clock: its unique key lets one process claim a reminder
    before sending it, so hosts checking the same clock at once send it once."""

    __tablename__ = "clock_reminder"
    __table_args__ = (UniqueConstraint("clock_id", "share", name="uq_clock_reminder_share"),)

    id: int | None = Field(default=None, primary_key=True)
    clock_id: int = Field(foreign_key="regulatory_clock.id", index=True)
    share: float
    claimed_at: datetime = timestamp(nullable=False, default_now=True)
