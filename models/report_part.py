"""Each acting group's part of the post-incident report (PLAN 4.6), one row per revision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import timestamp


class ReportPart(SQLModel, table=True):
    __tablename__ = "report_part"
    __table_args__ = (
        UniqueConstraint("incident_id", "group", "revision", name="uq_report_part_revision"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    group: str = Field(max_length=60)
    revision: int = Field(default=1, description="1, then one more per rejected report")
    author: str = Field(max_length=200, description="Role id, or the drill policy's name")
    by_drill_policy: bool = Field(default=False, description="Written by the drill policy")
    did: str = Field(max_length=4000)
    cause: str = Field(max_length=4000)
    lessons: str = Field(max_length=4000)
    written_at: datetime = timestamp(nullable=False, default_now=True)
