"""Drill scorecard lines: one row per target (met or missed) or gap, for evidence and metrics."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import timestamp


class DrillScore(SQLModel, table=True):
    """Kind is `stage` or `gate` (a target) or `gap` (something that went wrong)."""

    __tablename__ = "drill_score"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    scenario: str = Field(max_length=60, index=True)
    incident_type: str = Field(max_length=40)
    held_at: datetime = timestamp(nullable=False, index=True)
    kind: str = Field(max_length=20)
    name: str = Field(max_length=80)
    target_s: float | None = None
    actual_s: float | None = None
    met: bool = False
    result: str = Field(max_length=20, description="met, missed, not reached, gap")
    note: str = Field(default="", max_length=1000)
