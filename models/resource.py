"""Resource allocations: what logistics reserved for an incident, and any shortfall."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import timestamp


class ResourceAllocation(SQLModel, table=True):
    __tablename__ = "resource_allocation"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    resource: str = Field(max_length=80, index=True)
    requested: int
    reserved: int
    shortfall: int = 0
    status: str = Field(default="reserved", max_length=20, description="reserved, short, released")
    reserved_at: datetime = timestamp(nullable=False, default_now=True)
    released_at: datetime | None = timestamp()
