"""Scheduled drills in the plan (issue 4): scenarios, their schedules, injected faults, targets.

PCI DSS v4.0 12.10.2 wants the plan tested at least every 12 months; the default programme
drills each incident type once a quarter.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from models.enums import IncidentType, Stage
from models.intake import INTAKE_MODELS, IncidentIntake


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Seconds = Annotated[float, Field(gt=0)]
Times = Annotated[int, Field(ge=1)]


def _scenario_name(name: str) -> str:
    """A scenario becomes a deployment name (`drill-<name>`) and a UI label."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,50}", name):
        raise ValueError(f"scenario name {name!r}: use lowercase letters, digits and dashes")
    return name


ScenarioName = Annotated[str, AfterValidator(_scenario_name)]


def _default_stage_targets() -> dict[Stage, float]:
    return {
        Stage.command: 900,
        Stage.response: 3600,
        Stage.logistics: 1800,
        Stage.cleanup: 3600,
    }


def _default_gate_targets() -> dict[str, float]:
    return {"activation": 900, "user_notice": 1800, "signoff": 3600}


class DrillTargets(_Strict):
    """What a drill is scored against, in seconds."""

    stages: dict[Stage, Seconds] = Field(
        default_factory=_default_stage_targets,
        description="Stage -> longest acceptable duration (s), started to completed.",
    )
    gates: dict[str, Seconds] = Field(
        default_factory=_default_gate_targets,
        description="Gate id -> longest acceptable time from asking to an answer (s).",
    )


class DrillScenario(_Strict):
    """One rehearsed incident: what is reported, what goes wrong on purpose, when it runs."""

    title: str
    incident_type: IncidentType
    subtype: str | None = None
    cron: str | None = Field(default=None, description="When it runs (5-field cron).")
    interval_s: float | None = Field(
        default=None, gt=0, description="Run every N seconds instead of cron (demos, tests)."
    )
    report: dict[str, Any] = Field(
        default_factory=dict, description="Intake facts (the type's intake fields)."
    )
    auto_approve: bool = Field(
        default=True, description="The drill policy answers gates; false: people answer them."
    )
    with_people: bool = Field(
        default=False,
        description="Manual tasks go to their real owners and are scored on answer times.",
    )
    faults: dict[str, Times] = Field(
        default_factory=dict, description="Action key -> its first N attempts fail."
    )
    unanswered_gates: list[str] = Field(
        default_factory=list, description="Gates nobody answers: they time out per the plan."
    )
    gate_timeout_s: float = Field(
        default=30, gt=0, description="Timeout of each round of an unanswered gate."
    )
    shortfall: dict[str, Times] = Field(
        default_factory=dict, description="Resource -> units asked for beyond the inventory."
    )
    targets: DrillTargets | None = Field(
        default=None, description="Overrides the programme's targets for this scenario."
    )

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, cron: str | None) -> str | None:
        if cron is not None and len(cron.split()) != 5:
            raise ValueError(f"cron {cron!r} must have 5 fields")
        return cron

    @model_validator(mode="after")
    def _one_schedule(self) -> DrillScenario:
        if self.cron is not None and self.interval_s is not None:
            raise ValueError("give cron or interval_s, not both")
        return self

    def filed_intake(self, name: str) -> IncidentIntake:
        """The intake the drill named `name` files: the scenario's facts, marked as a drill."""
        fields = {
            "summary": f"Drill {name}: {self.title}",
            "reporter": "drill scheduler",
            "description": f"Scheduled drill '{name}' from the plan.",
            **self.report,
        }
        if self.subtype is not None:
            fields.setdefault("subtype", self.subtype)
        return INTAKE_MODELS[self.incident_type].model_validate(fields)


def _default_scenarios() -> dict[str, DrillScenario]:
    """Each type once a quarter, staggered so no two drills share a day."""
    return {
        "data-breach-quarterly": DrillScenario(
            title="Customer records exposed by a misconfigured export endpoint",
            incident_type=IncidentType.data_breach,
            cron="0 3 1 1,4,7,10 *",
            report={"data_categories": ["email", "phone"], "records_affected": 20000},
            unanswered_gates=["user_notice"],
        ),
        "network-attack-quarterly": DrillScenario(
            title="Volumetric DDoS on the storefront",
            incident_type=IncidentType.network_attack,
            subtype="ddos",
            cron="0 3 15 1,4,7,10 *",
            report={"subtype": "ddos", "peak_gbps": 60, "service": "storefront"},
            faults={"enable_ddos_scrubbing": 2},
        ),
        "system-failure-quarterly": DrillScenario(
            title="Primary database host down",
            incident_type=IncidentType.system_failure,
            cron="0 3 1 2,5,8,11 *",
            report={"failed_components": ["db-primary"], "service": "orders"},
            shortfall={"spare_servers": 5},
        ),
        "insider-threat-quarterly": DrillScenario(
            title="Privileged account exporting customer data",
            incident_type=IncidentType.insider_threat,
            cron="0 3 15 2,5,8,11 *",
            report={"account": "drill-account", "records_affected": 5000},
            unanswered_gates=["signoff"],
        ),
    }


class DrillProgram(_Strict):
    """The plan's drill programme: when scenarios run and what they are scored against."""

    timezone: str = Field(default="UTC", description="Time zone of the cron schedules.")
    max_interval_months: int = Field(
        default=12, ge=1, description="Each type drilled at least this often (PCI DSS 12.10.2)."
    )
    targets: DrillTargets = Field(default_factory=DrillTargets)
    scenarios: dict[ScenarioName, DrillScenario] = Field(default_factory=_default_scenarios)

    def targets_for(self, scenario: str | None) -> DrillTargets:
        found = self.scenarios.get(scenario) if scenario else None
        return found.targets if found is not None and found.targets is not None else self.targets
