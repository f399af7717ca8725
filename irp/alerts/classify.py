"""Map a parsed alert to an incident type, subtype and priority.

The alert's own `incident_type` hint wins; otherwise the first matching rule decides;
`None` means unmapped (the caller stores the alert and a person maps it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from irp.alerts.parsers import ParsedAlert
from models.enums import IncidentType, Priority
from models.plan_alerts import (
    DEFAULT_RULES,
    PSEUDO_FIELDS,
    SUBTYPES,
    ClassificationRule,
    field_value,
)

__all__ = [
    "DEFAULT_RULES",
    "HINT",
    "PSEUDO_FIELDS",
    "SUBTYPES",
    "Classification",
    "ClassificationRule",
    "classify",
    "field_value",
]

HINT = "hint"


class Classification(BaseModel):
    """The outcome; `rule` is the rule's name, or `hint` (+ the rule that filled gaps)."""

    model_config = ConfigDict(frozen=True)

    incident_type: IncidentType
    subtype: str | None = None
    priority: Priority | None = None
    rule: str


def _hint_type(value: str | None) -> IncidentType | None:
    if not value:
        return None
    normalised = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return IncidentType(normalised)
    except ValueError:
        return None


def _hint_subtype(itype: IncidentType, value: str | None) -> str | None:
    normalised = (value or "").strip().lower()
    return normalised if normalised in SUBTYPES.get(itype, frozenset()) else None


def classify(alert: ParsedAlert, rules: list[ClassificationRule]) -> Classification | None:
    """Hint first (an invalid one is ignored), else the first matching rule, else None.

    With a valid hint, the first matching rule of the same type still supplies a
    missing subtype and the priority, so `incident_type=network_attack` on a
    `SynFlood` alert becomes network_attack/ddos.
    """
    hint = _hint_type(alert.incident_type)
    if hint is not None:
        subtype = _hint_subtype(hint, alert.subtype)
        agreeing = next((r for r in rules if r.incident_type == hint and r.matches(alert)), None)
        if agreeing is None:
            return Classification(incident_type=hint, subtype=subtype, rule=HINT)
        return Classification(
            incident_type=hint,
            subtype=subtype or agreeing.subtype,
            priority=agreeing.priority,
            rule=f"{HINT}+{agreeing.name}",
        )
    for rule in rules:
        if rule.matches(alert):
            return Classification(
                incident_type=rule.incident_type,
                subtype=rule.subtype,
                priority=rule.priority,
                rule=rule.name,
            )
    return None
