"""Evidence items and their chain of custody."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import timestamp


class Evidence(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    what: str = Field(max_length=500)
    location: str = Field(max_length=1000)
    sha256: str = Field(min_length=64, max_length=64)
    collected_by: str = Field(max_length=200)
    collected_at: datetime = timestamp(nullable=False, default_now=True)
