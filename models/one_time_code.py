"""One-time codes that prove who answered a gate (issue 12): the code's keyed hash, never the
code; bound to an incident, a subject (`gate:activation`, later `task:...`), a round and a
person; good once, until it expires."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import timestamp


class OneTimeCode(SQLModel, table=True):
    __tablename__ = "one_time_code"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    subject: str = Field(max_length=120, description="gate:<id> (task:<id> for manual tasks)")
    round: int
    person: str = Field(max_length=60, description="Person id from the plan.")
    code_hash: str = Field(max_length=64, description="HMAC-SHA256 of the code and bindings.")
    channel: str = Field(max_length=500, description="Where the code went, described (masked).")
    issued_at: datetime = timestamp(nullable=False, default_now=True)
    expires_at: datetime = timestamp(nullable=False)
    used_at: datetime | None = timestamp()
