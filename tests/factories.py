"""Test data: reports and plans with overrides, so each test states only what matters to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from irp.plan.loader import DEFAULT_PLAN_FILE
from models.enums import IncidentType
from models.report import REPORT_MODELS, IncidentReport


def make_report(incident_type: IncidentType, **overrides: Any) -> IncidentReport:
    fields: dict[str, Any] = {
        "summary": f"Test {incident_type.value}",
        "reporter": "on-call engineer",
    }
    if incident_type == IncidentType.insider_threat:
        fields["account"] = "emp-1024"
    fields.update(overrides)
    return REPORT_MODELS[incident_type](**fields)


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
