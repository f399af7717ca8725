"""What a reporter states (PLAN 4.1): the typed parameters of each flow and its UI form.

Each incident type has one intake model, which names its type: that is the registry of types
(`INTAKE_MODELS`) the flows, deployments, drills and CLI are built from."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.enums import IncidentType


class IncidentIntake(BaseModel):
    """Facts every intake carries: type-independent, PLAN 4.1's minimum plus who reports."""

    model_config = ConfigDict(extra="forbid")
    incident_type: ClassVar[IncidentType]
    drill_facts: ClassVar[dict[str, str]] = {}
    """Required facts a drill run from the CLI cannot ask for, filled with stand-ins."""

    summary: str = Field(min_length=3, max_length=500, description="One line: what is happening.")
    reporter: str = Field(
        min_length=1, max_length=200, description="Who discovered and reports it."
    )
    description: str = Field(
        default="", max_length=20_000, description="Details, in the reporter's words."
    )
    occurred_at: datetime | None = Field(default=None, description="When it started, if known.")
    detected_at: datetime | None = Field(
        default=None, description="When it was detected (default: now)."
    )
    service: str | None = Field(default=None, max_length=200, description="Main service affected.")
    affected_services: list[str] = Field(
        default_factory=list, description="Scope: services affected."
    )
    people_affected: int = Field(default=0, ge=0, description="Scope: users affected (estimate).")
    direct_loss_cny: float = Field(default=0, ge=0, description="Direct loss known so far, CNY.")
    daily_life_affected: int = Field(
        default=0, ge=0, description="People whose daily life is affected."
    )
    outage_minutes: float = Field(default=0, ge=0, description="Minutes of outage so far.")
    share_of_traffic_affected: float = Field(
        default=0, ge=0, le=1, description="0-1 share of traffic hit."
    )
    near_miss: bool = Field(default=False, description="Nothing was harmed (a near miss).")
    subtype: str | None = Field(default=None, description="Subtype, where the type has them.")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """An intake model naming its type registers it: the type is then known everywhere."""
        super().__pydantic_init_subclass__(**kwargs)
        if "incident_type" in cls.__dict__:
            INTAKE_MODELS[cls.incident_type] = cls

    @field_validator("occurred_at", "detected_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (e.g. 2026-11-25T03:10:00+08:00)")
        return value

    @model_validator(mode="after")
    def _occurred_before_detected(self) -> IncidentIntake:
        if self.occurred_at and self.detected_at and self.occurred_at > self.detected_at:
            raise ValueError("occurred_at is after detected_at")
        return self

    def scope(self) -> dict[str, Any]:
        """The scope of impact as recorded on the incident."""
        keys = ("service", "affected_services", "people_affected", "outage_minutes")
        return {k: getattr(self, k) for k in keys}


INTAKE_MODELS: dict[IncidentType, type[IncidentIntake]] = {}
"""Every incident type's intake model, in the order they are defined (the enum's order)."""


class DataBreachIntake(IncidentIntake):
    incident_type = IncidentType.data_breach
    data_categories: list[str] = Field(
        default_factory=list,
        description="What data: e.g. email, phone, id_number, bank_card, address, password, order_history.",
    )
    records_affected: int = Field(default=0, ge=0, description="Records exposed (estimate).")
    cardholder_data: bool = Field(
        default=False, description="Card numbers or CVV involved (PCI DSS)."
    )
    gdpr_subjects: bool = Field(default=False, description="EU residents' data involved (GDPR).")
    leak_vector: str = Field(default="", max_length=500, description="How the data left, if known.")


class NetworkAttackIntake(IncidentIntake):
    incident_type = IncidentType.network_attack
    subtype: Literal["ddos", "malware", "intrusion"] = Field(
        default="ddos", description="Kind of attack."
    )
    attack_sources: list[str] = Field(default_factory=list, description="Source IPs or networks.")
    target_hosts: list[str] = Field(
        default_factory=list, description="Hosts under attack or infected."
    )
    peak_gbps: float = Field(default=0, ge=0, description="Peak attack traffic, Gbit/s (DDoS).")
    mitigation_defeated: bool = Field(
        default=False, description="The attack defeats current mitigation."
    )
    ransomware_spreading: bool = Field(
        default=False, description="Ransomware spreading in production."
    )
    blocked: bool = Field(default=False, description="Already blocked by existing defences.")


class SystemFailureIntake(IncidentIntake):
    incident_type = IncidentType.system_failure
    failed_components: list[str] = Field(
        default_factory=list, description="Servers or components down."
    )
    payment_down: bool = Field(default=False, description="Checkout or payment fully down.")
    core_degraded_minutes: float = Field(
        default=0, ge=0, description="Minutes the core path is degraded."
    )


class InsiderThreatIntake(IncidentIntake):
    incident_type = IncidentType.insider_threat
    drill_facts = {"account": "drill-account"}
    subtype: Literal["malicious", "improper_operation"] = Field(
        default="malicious",
        description="malicious act, or improper operation by staff (PLAN 2.4: non-hostile).",
    )
    account: str = Field(
        min_length=1, max_length=200, description="Account or employee id suspected."
    )
    department: str = Field(default="", max_length=200, description="The account's department.")
    suspected_activity: str = Field(
        default="", max_length=2000, description="What the account did."
    )
    data_categories: list[str] = Field(
        default_factory=list, description="Data the account reached."
    )
    records_affected: int = Field(default=0, ge=0, description="Records accessed or taken.")
    bulk_exfiltration: bool = Field(default=False, description="Bulk data exfiltration suspected.")


REPORT_FLOW = "report-incident"
"""The flow (and deployment `report-incident/irp`) a short-form report starts."""
REPORTED_TYPES = ("unknown", *(t.cli_name for t in INTAKE_MODELS))
"""What a reporter may say the type is; `unknown` goes to triage."""


class IncidentReport(BaseModel):
    """The short form whoever discovers an incident fills in (PLAN 4.1): the commander grades it,
    and chooses the type at triage if the reporter could not."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=500, description="One line: what is happening.")
    reporter: str = Field(min_length=1, max_length=200, description="Who you are.")
    what_happened: str = Field(
        default="", max_length=20_000, description="What you saw, in your words."
    )
    incident_type: Literal[REPORTED_TYPES] = Field(  # type: ignore[valid-type]
        default="unknown", description="The type if you know it; unknown: the commander decides."
    )

    @property
    def reported_type(self) -> IncidentType:
        return IncidentType(str(self.incident_type).replace("-", "_"))

    def intake(self) -> IncidentIntake:
        """As an intake: the facts every type shares; the type's own come with the response."""
        return IncidentIntake(
            summary=self.title, reporter=self.reporter, description=self.what_happened
        )
