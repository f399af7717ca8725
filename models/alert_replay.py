"""Standard Webhooks message ids seen recently: a replayed signed delivery is refused."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import timestamp


class SeenWebhookMessage(SQLModel, table=True):
    """The id's SHA-256 is the primary key (ids have no length limit), so two webhook
    processes sharing the database cannot both accept one message; a row may go once
    `expires_at` (its timestamp + tolerance) has passed: a replay then fails the timestamp
    check anyway."""

    __tablename__ = "seen_webhook_message"

    id_sha256: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = timestamp(nullable=False, index=True)
