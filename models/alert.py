"""Alerts received from monitors; each stored once per dedup key and linked to its incident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Text
from sqlmodel import Column, Field, SQLModel

from models.base import json_field, timestamp


class Alert(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=40, index=True)
    dedup_key: str = Field(max_length=400, unique=True)
    name: str = Field(max_length=500)
    status: str = Field(max_length=20)
    service: str | None = Field(default=None, max_length=200)
    incident_type: str | None = Field(default=None, max_length=40)
    subtype: str | None = Field(default=None, max_length=40)
    priority: str | None = Field(default=None, max_length=4)
    mapped: bool = Field(default=False, index=True)
    incident_id: str | None = Field(
        default=None, foreign_key="incident.id", index=True, max_length=20
    )
    labels: dict[str, Any] = json_field()
    payload: dict[str, Any] = json_field()
    raw_body: str | None = Field(
        default=None,
        sa_column=Column(Text, nullable=True),
        description="The body as received, kept when the stored fields are not exactly what "
        "arrived (a form-encoded body, or NUL characters replaced).",
    )
    raw_body_encoding: str | None = Field(
        default=None, max_length=10, description="`utf-8`, or `base64` for bytes that are not text."
    )
    starts_at: datetime | None = timestamp()
    received_at: datetime = timestamp(nullable=False, default_now=True)
