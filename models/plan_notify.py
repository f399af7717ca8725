"""The plan's notification section: who hears what, in which words, and the legal clocks.

Defaults come from DOMAIN.md (regulatory clocks table), so a plan without this section still
routes messages and runs the clocks; each figure names its source.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from models.plan import Condition
from models.redaction import RedactionPattern

NotifyEvent = Literal[
    "report_received",
    "plan_activated",
    "gate_waiting",
    "gate_escalated",
    "contained",
    "closed",
    "report_ready",
    "clock_reminder",
    "task_open",
    "task_overdue",
]
TemplateKind = Literal["leadership", "technical", "customer_notice", "regulator_draft"]

# Field key -> label of what a regulator notification must say (DOMAIN.md "content" column).
REGULATOR_FIELDS: dict[str, str] = {
    "unit": "Reporting unit",
    "system": "System affected",
    "discovery_time": "Discovery time",
    "incident_type": "Incident type",
    "grade": "Grade",
    "impact": "Impact",
    "measures": "Measures taken",
    "data_types": "Data types involved",
    "cause": "Cause",
    "possible_harm": "Possible harm",
    "remedial_steps": "Remedial steps",
    "individual_actions": "What individuals can do",
    "contact": "Contact",
    "nature": "Nature of the breach",
    "people_and_records": "Approximate number of people and records",
    "dpo_contact": "DPO contact",
    "consequences": "Likely consequences",
    "roles": "Roles and responsibilities",
    "continuity": "Business continuity",
    "backups": "Backups",
    "legal_analysis": "Legal analysis",
    "harm": "Harm caused",
    "accountability": "Accountability",
    "fixes": "Rectification",
    "lessons": "Lessons learned",
}


def _regulator_field(key: str) -> str:
    if key not in REGULATOR_FIELDS:
        raise ValueError(f"unknown field {key!r} (known: {', '.join(REGULATOR_FIELDS)})")
    return key


RegulatorField = Annotated[str, AfterValidator(_regulator_field)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClockRule(_Strict):
    """One legal deadline: starts at detection (or, for a summary due after the incident, at
    its closure) when any condition holds on the incident's facts.

    Facts are the report's, plus `personal_data`, `sensitive_data`, `national_grade_rank`
    (4 = I ... 1 = IV) and `incident_type`.
    """

    title: str
    source: str = Field(description="Regulation and article the deadline comes from.")
    starts: Literal["detection", "closure"] = Field(
        default="detection",
        description="The window runs from detection, or from closure (a rejected or stopped "
        "incident never closes, so its closure clocks never start).",
    )
    any: list[Condition] = Field(min_length=1)
    window_minutes: float = Field(gt=0)
    cii_window_minutes: float | None = Field(
        default=None, gt=0, description="Window for critical information infrastructure."
    )
    authority: str = Field(description="Who must be notified.")
    content: list[RegulatorField] = Field(
        default_factory=list, description="Regulator draft field keys."
    )
    remind: list[str] = Field(
        default_factory=lambda: ["legal", "leadership"], description="Group or role ids."
    )
    reminders_at: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: [0.5, 0.9, 1.0], description="Shares of the window."
    )


def _c(fact: str, **test: object) -> Condition:
    return Condition.model_validate({"fact": fact, **test})


def default_clock_rules() -> dict[str, ClockRule]:
    """DOMAIN.md regulatory clocks. "Immediately" is taken as 60 minutes: replace if counsel
    sets another working target."""
    return {
        "cac": ClockRule(
            title="CAC cybersecurity incident report",
            source="CAC 网络安全事件报告管理办法 art. 4, 7, 8",
            any=[_c("national_grade_rank", gte=2)],
            window_minutes=240,
            cii_window_minutes=60,
            authority="Provincial cyberspace office (CII: sector regulator and police)",
            content=[
                "unit",
                "system",
                "discovery_time",
                "incident_type",
                "grade",
                "impact",
                "measures",
            ],
        ),
        "cac_summary": ClockRule(
            title="CAC incident summary report",
            source="CAC 网络安全事件报告管理办法 (final summary within 30 days of closure)",
            any=[_c("national_grade_rank", gte=2)],
            starts="closure",
            window_minutes=30 * 24 * 60,
            authority="Provincial cyberspace office (CII: sector regulator and police)",
            content=[
                "unit",
                "system",
                "incident_type",
                "grade",
                "cause",
                "measures",
                "harm",
                "accountability",
                "fixes",
                "lessons",
            ],
        ),
        "pipl": ClockRule(
            title="PIPL personal information incident notice",
            source="PIPL art. 57 (immediately; plan target 60 min)",
            any=[_c("personal_data", is_true=True), _c("incident_type", eq="data_breach")],
            window_minutes=60,
            authority="PI-protection authority and affected individuals",
            content=[
                "data_types",
                "cause",
                "possible_harm",
                "remedial_steps",
                "individual_actions",
                "contact",
            ],
        ),
        "gdpr": ClockRule(
            title="GDPR personal data breach notification",
            source="GDPR art. 33 (72 h after awareness)",
            any=[_c("gdpr_subjects", is_true=True)],
            window_minutes=72 * 60,
            authority="Lead supervisory authority",
            content=[
                "nature",
                "people_and_records",
                "dpo_contact",
                "consequences",
                "measures",
            ],
        ),
        "pci": ClockRule(
            title="PCI DSS cardholder data incident notice",
            source="PCI DSS v4.0 12.10 (immediately; plan target 60 min)",
            any=[_c("cardholder_data", is_true=True)],
            window_minutes=60,
            authority="Card brands and acquirer",
            content=["roles", "measures", "continuity", "backups", "legal_analysis"],
        ),
    }


def default_routes() -> dict[NotifyEvent, list[str]]:
    """Which groups hear each stage event; gate events add the gate's deciders."""
    everyone = ["leadership", "technical", "customer_service", "legal", "logistics"]
    return {
        "report_received": ["leadership", "technical"],
        "plan_activated": everyone,
        "gate_waiting": [],
        "gate_escalated": ["leadership"],
        "contained": ["leadership", "technical", "customer_service", "legal"],
        "closed": everyone,
        "report_ready": ["leadership", "technical", "legal"],
        "clock_reminder": [],
        "task_open": [],
        "task_overdue": [],
    }


def default_templates() -> dict[str, TemplateKind]:
    return {
        "leadership": "leadership",
        "technical": "technical",
        "logistics": "technical",
        "customer_service": "customer_notice",
        "legal": "regulator_draft",
    }


class DeliveryPolicy(_Strict):
    """Retries and timeouts per target (irp.notify.delivery.deliver)."""

    max_attempts: int = Field(default=4, ge=1, le=10)
    base_delay_s: float = Field(default=1.0, ge=0)
    max_delay_s: float = Field(default=30.0, ge=0)
    timeout_s: float = Field(default=10.0, gt=0)
    max_retry_after_s: float = Field(default=120.0, ge=0)


class DrillNotify(_Strict):
    """Drills do not page real people unless `page_real_people` says so."""

    page_real_people: bool = False
    targets: list[SecretStr] = Field(
        default_factory=list, description="Apprise URLs that receive drill messages (secrets)."
    )


class NotificationPlan(_Strict):
    enabled: bool = True
    reporting_unit: str | None = Field(default=None, description="Unit named to regulators.")
    contact: str | None = Field(default=None, description="Contact point named in notices.")
    dpo_contact: str | None = Field(default=None, description="Data protection officer contact.")
    critical_information_infrastructure: bool = Field(
        default=False, description="CAC art. 7: CII operators report within 1 h."
    )
    routes: dict[NotifyEvent, list[str]] = Field(
        default_factory=default_routes, description="Event -> group or role ids."
    )
    templates: dict[str, TemplateKind] = Field(
        default_factory=default_templates, description="Group or role id -> template."
    )
    redaction_patterns: list[RedactionPattern] = Field(default_factory=list)
    clocks: dict[str, ClockRule] = Field(default_factory=default_clock_rules)
    delivery: DeliveryPolicy = Field(default_factory=DeliveryPolicy)
    drill: DrillNotify = Field(default_factory=DrillNotify)

    @field_validator("routes", mode="after")
    @classmethod
    def _default_routes(cls, routes: dict[NotifyEvent, list[str]]) -> dict[NotifyEvent, list[str]]:
        """Events a plan leaves out keep their default audiences."""
        return {**default_routes(), **routes}

    @field_validator("templates", mode="after")
    @classmethod
    def _default_templates(cls, templates: dict[str, TemplateKind]) -> dict[str, TemplateKind]:
        return {**default_templates(), **templates}
