"""The append-only timeline: the truth reports and audits are computed from.

Each event is chained to the one before it in its incident: `prev_hash` is that event's
`hash`, and `hash` covers this event's content and `prev_hash`. Editing, removing or
reordering an event breaks every link after it (`irp audit verify`); the database refuses
UPDATE and DELETE outright (triggers, migration 0006), and the unique (incident, prev_hash)
index refuses a fork.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from models.base import json_field, timestamp

GENESIS = ""
"""The `prev_hash` of an incident's first event."""


class TimelineEvent(SQLModel, table=True):
    __tablename__ = "timeline_event"
    __table_args__ = (Index("uq_timeline_chain", "incident_id", "prev_hash", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: str = Field(foreign_key="incident.id", index=True, max_length=20)
    at: datetime = timestamp(nullable=False, default_now=True)
    stage: str = Field(max_length=40)
    kind: str = Field(max_length=60, index=True)
    actor: str = Field(max_length=200)
    message: str = Field(max_length=4000)
    data: dict[str, Any] = json_field()
    prev_hash: str = Field(default=GENESIS, max_length=64)
    hash: str = Field(default=GENESIS, max_length=64)

    def content_hash(self) -> str:
        """SHA-256 over the previous link and this event's content, as stored (`data` must
        be plain JSON, as it is once read back)."""
        return chain_hash(
            self.prev_hash,
            {
                "incident_id": self.incident_id,
                "at": self.at.astimezone(UTC).isoformat(),
                "stage": self.stage,
                "kind": self.kind,
                "actor": self.actor,
                "message": self.message,
                "data": self.data,
            },
        )


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """The link: stable across Python versions and databases (sorted keys, no whitespace)."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()
