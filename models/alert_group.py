"""One row per open alert group: the unique key that stops two incidents opening at once."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import timestamp


class OpenIncidentGroup(SQLModel, table=True):
    """`group_key` (`group:<type>:<service>`) is the primary key, so concurrent alerts of one
    group cannot both open an incident; the row is replaced once its incident has ended."""

    __tablename__ = "open_incident_group"

    group_key: str = Field(primary_key=True, max_length=300)
    incident_id: str = Field(
        index=True, max_length=20, description="No foreign key: claimed before the incident exists."
    )
    opened_at: datetime = timestamp(nullable=False, default_now=True)
