"""The plan's alert classification rules: labels or fields -> incident type, subtype, priority.

Lives in `models` (the plan schema) so the plan can hold rules without importing the alert
services; `irp.alerts.classify` applies them.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.enums import IncidentType, Priority

AlertSource = Literal[
    "alertmanager", "grafana", "cloudevents", "generic", "suricata", "wazuh", "tencent", "aliyun"
]

# Subtypes each incident type accepts (the default plan's `subtypes`); others take none.
SUBTYPES: dict[IncidentType, frozenset[str]] = {
    IncidentType.network_attack: frozenset({"ddos", "malware", "intrusion"}),
}
PSEUDO_FIELDS = ("alertname", "name", "source", "severity", "service")


class AlertFields(Protocol):
    """What a rule can look at: satisfied by `irp.alerts.parsers.ParsedAlert`."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def service(self) -> str | None: ...
    @property
    def labels(self) -> dict[str, str]: ...


def field_value(alert: AlertFields, key: str) -> str | None:
    """What a rule's `match` key refers to: a pseudo-field first, else a label."""
    if key in ("alertname", "name"):
        return alert.name
    if key == "source":
        return alert.source
    if key == "severity":
        return alert.severity
    if key == "service":
        return alert.service
    return alert.labels.get(key)


class ClassificationRule(BaseModel):
    """`match` maps a label or pseudo-field to an exact value, or `~regex` (searched)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Shown in errors and on the timeline.")
    match: dict[str, str] = Field(
        default_factory=dict,
        description="All must hold; a value starting with `~` is a regex, searched unanchored.",
    )
    source: AlertSource | None = Field(default=None, description="Only alerts from this source.")
    incident_type: IncidentType
    subtype: str | None = None
    priority: Priority | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        """Every problem of the rule in one message: a plan is fixed in one round."""
        problems: list[str] = []
        allowed = SUBTYPES.get(self.incident_type, frozenset())
        if self.subtype is not None and self.subtype not in allowed:
            choices = ", ".join(sorted(allowed)) or "none"
            problems.append(
                f"subtype {self.subtype!r} is not valid for "
                f"{self.incident_type.value} (allowed: {choices})"
            )
        for key, value in self.match.items():
            if value.startswith("~"):
                try:
                    re.compile(value[1:])
                except re.error as exc:
                    problems.append(f"match.{key}: invalid regex {value[1:]!r}: {exc}")
        if problems:
            raise ValueError("; ".join(f"rule {self.name!r}: {p}" for p in problems))
        return self

    def matches(self, alert: AlertFields) -> bool:
        """True when the source fits and every `match` entry holds; absent fields never match."""
        if self.source is not None and alert.source != self.source:
            return False
        for key, expected in self.match.items():
            actual = field_value(alert, key)
            if actual is None:
                return False
            if expected.startswith("~"):
                if re.search(expected[1:], actual) is None:  # re caches compiled patterns
                    return False
            elif actual != expected:
                return False
        return True


def _rule(
    name: str, pattern: str, itype: IncidentType, subtype: str | None = None
) -> ClassificationRule:
    return ClassificationRule(
        name=name, match={"alertname": pattern}, incident_type=itype, subtype=subtype
    )


# Order matters: security patterns go before the broad system-failure words, and
# `leak` alone is avoided so that MemoryLeak is a system failure, not a breach.
# The shipped plan (irp/plan/default_plan.yaml, `classification`) repeats these rules.
DEFAULT_RULES: list[ClassificationRule] = [
    _rule(
        "default-ddos",
        r"~(?i)ddos|syn.?flood|udp.?flood|traffic.?spike",
        IncidentType.network_attack,
        "ddos",
    ),
    _rule(
        "default-malware",
        r"~(?i)malware|ransomware|virus|trojan|cryptominer",
        IncidentType.network_attack,
        "malware",
    ),
    _rule(
        "default-intrusion",
        r"~(?i)intrusion|brute.?force|ssh.?login|unauthori[sz]ed.?access",
        IncidentType.network_attack,
        "intrusion",
    ),
    _rule(
        "default-data-breach",
        r"~(?i)data.?leak|credential.?leak|exfil|breach|dlp",
        IncidentType.data_breach,
    ),
    _rule("default-insider", r"~(?i)insider|privilege.?abuse", IncidentType.insider_threat),
    _rule(
        "default-system-failure",
        r"~(?i)down|unavailable|unhealthy|error.?rate|latency|disk|oom|out.?of.?memory"
        r"|memory.?leak|crash",
        IncidentType.system_failure,
    ),
]
