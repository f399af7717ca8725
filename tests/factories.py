"""Test data: reports and plans with overrides, so each test states only what matters to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from irp.plan.loader import DEFAULT_PLAN_FILE
from models.enums import IncidentType
from models.intake import INTAKE_MODELS, IncidentIntake


def make_intake(incident_type: IncidentType, **overrides: Any) -> IncidentIntake:
    fields: dict[str, Any] = {
        "summary": f"Test {incident_type.value}",
        "reporter": "on-call engineer",
    }
    if incident_type == IncidentType.insider_threat:
        fields["account"] = "emp-1024"
    fields.update(overrides)
    return INTAKE_MODELS[incident_type](**fields)


def breach_with_evidence(intake: IncidentIntake | None = None) -> str:
    """A real breach whose evidence a person has recorded (its cleanup waits for it); run it
    with `FLOWS[IncidentType.data_breach](incident_id=...)`."""
    from irp.db import session_scope
    from irp.incidents import service as incidents
    from irp.response import custody

    with session_scope() as session:
        incident = incidents.open_incident(
            session, IncidentType.data_breach, intake or make_intake(IncidentType.data_breach)
        )
        custody.add_evidence(
            session,
            incident,
            what="web server logs",
            location="evidence locker 1",
            sha256="0" * 64,
            collected_by="security_engineer",
        )
        return incident.id


def plan_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_PLAN_FILE.read_text(encoding="utf-8"))
    return data


def write_plan(folder: Path, data: dict[str, Any], name: str = "plan.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def fast_retries(data: dict[str, Any]) -> dict[str, Any]:
    """No waiting between retries in tests: the policy is exercised, not the clock."""
    for spec in data["incident_types"].values():
        for action in spec["playbook"]:
            action["retry_delay_s"] = 0
            action["retry_jitter"] = 0
    return data


def automatic_evidence_step(data: dict[str, Any], incident_type: str = "data_breach") -> None:
    """Turn the type's evidence step back into an automatic one (`simulate`): what a plan that
    has not given it to people has. In a real incident it is simulated and preserves nothing."""
    step = next(
        a
        for a in data["incident_types"][incident_type]["playbook"]
        if a["key"] == "preserve_evidence"
    )
    for manual_field in ("executor", "instructions", "due_s", "needs"):
        del step[manual_field]
