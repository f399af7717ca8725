"""PLAN 2.4 insider threat: suspend access, preserve evidence, assess, legal and HR review."""

from __future__ import annotations

from prefect import flow

from flows.lifecycle import run_incident
from flows.run_names import flow_run_name
from models.enums import IncidentType
from models.report import InsiderThreatReport


@flow(name="insider-threat", flow_run_name=flow_run_name, log_prints=True, persist_result=True)
def insider_threat(
    report: InsiderThreatReport | None = None,
    incident_id: str | None = None,
    drill: bool = False,
    auto_approve: bool = False,
    plan_file: str | None = None,
    faults: dict[str, int] | None = None,
    notify_url: str | None = None,
    scenario: str | None = None,
    shortfall: dict[str, int] | None = None,
) -> str:
    """Respond to an insider threat. Give a new `report`, or the `incident_id` of an opened one."""
    return run_incident(
        IncidentType.insider_threat,
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
