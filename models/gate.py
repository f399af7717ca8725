"""Gate decisions: who decided what, when, and whether they were allowed to."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import timestamp


class GateDecision(SQLModel, table=True):
    __tablename__ = "gate_decision"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    gate: str = Field(max_length=60)
    stage: str = Field(max_length=40)
    round: int = 1
    decision: str = Field(max_length=40, description="approve, reject, escalate, timeout")
    outcome: str = Field(
        max_length=40, description="what the flow did: proceed, stop, escalate, refused"
    )
    approver: str = Field(max_length=200)
    approver_role: str | None = Field(default=None, max_length=60)
    accepted: bool = True
    comment: str = Field(default="", max_length=4000)
    priority_override: str | None = Field(default=None, max_length=4)
    requested_at: datetime = timestamp(nullable=False)
    decided_at: datetime = timestamp(nullable=False, default_now=True)
