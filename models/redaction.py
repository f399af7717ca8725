"""The plan's own redaction patterns, and the names of the built-in detectors they may not
take: part of the plan's schema, so a plan is validated without the redactor (irp/redact.py)."""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

PHONE: Final = "phone"
EMAIL: Final = "email"
ID_NUMBER: Final = "id_number"
BANK_CARD: Final = "bank_card"
BUILTIN_KINDS: Final = frozenset({PHONE, EMAIL, ID_NUMBER, BANK_CARD})


class RedactionPattern(BaseModel):
    """An extra pattern from the plan file; its matches become ``[REDACTED:<label or name>]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^\[\]\s]+$")
    regex: str = Field(min_length=1)
    label: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[^\[\]\r\n]+$")

    @model_validator(mode="after")
    def _regex_compiles(self) -> RedactionPattern:
        compile_pattern(self)
        return self

    @property
    def replacement(self) -> str:
        """The text that replaces a match."""
        return f"[REDACTED:{self.label or self.name}]"


def compile_pattern(pattern: RedactionPattern) -> re.Pattern[str]:
    """Compile a configured pattern; errors name the pattern so the plan author can find it."""
    if pattern.name in BUILTIN_KINDS:
        raise ValueError(f"redaction pattern {pattern.name!r}: name is reserved for a built-in")
    try:
        compiled = re.compile(pattern.regex)
    except re.error as exc:
        raise ValueError(f"redaction pattern {pattern.name!r}: invalid regex: {exc}") from exc
    if compiled.search("") is not None:
        raise ValueError(f"redaction pattern {pattern.name!r}: regex matches the empty string")
    return compiled
