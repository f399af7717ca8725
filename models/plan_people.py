"""The people of the plan (issue 12): who holds a role, and where a one-time code reaches them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Person(BaseModel):
    """A person who may decide a gate: a name (no contact data) and their own channels, which
    receive their one-time codes and signed links."""

    model_config = ConfigDict(extra="forbid")

    name: str
    channels: list[SecretStr] = Field(
        default_factory=list,
        description="Apprise URLs or ${VARIABLE} references (secrets): this person's alone.",
    )
