"""PLAN 2.3 system failure: diagnose, fail over, verify backups, restore service."""

from __future__ import annotations

from prefect import flow

from flows.lifecycle import run_incident
from flows.run_names import flow_run_name
from models.enums import IncidentType
from models.report import SystemFailureReport


@flow(name="system-failure", flow_run_name=flow_run_name, log_prints=True, persist_result=True)
def system_failure(
    report: SystemFailureReport | None = None,
    incident_id: str | None = None,
    drill: bool = False,
    auto_approve: bool = False,
    plan_file: str | None = None,
    faults: dict[str, int] | None = None,
    notify_url: str | None = None,
    scenario: str | None = None,
    shortfall: dict[str, int] | None = None,
) -> str:
    """Respond to a system failure. Give a new `report`, or the `incident_id` of an opened one."""
    return run_incident(
        IncidentType.system_failure,
        report,
        incident_id=incident_id,
        drill=drill,
        auto_approve=auto_approve,
        plan_file=plan_file,
        faults=faults,
        notify_url=notify_url,
        scenario=scenario,
        shortfall=shortfall,
    )
