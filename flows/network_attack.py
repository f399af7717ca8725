"""PLAN 2.2 network attack (ddos, malware, intrusion): block, isolate, analyse, restore."""

from __future__ import annotations

from prefect import flow

from flows.lifecycle import run_incident
from flows.run_names import flow_run_name
from models.enums import IncidentType
from models.report import NetworkAttackReport


@flow(name="network-attack", flow_run_name=flow_run_name, log_prints=True, persist_result=True)
def network_attack(
    report: NetworkAttackReport | None = None,
    incident_id: str | None = None,
    drill: bool = False,
    auto_approve: bool = False,
    plan_file: str | None = None,
    faults: dict[str, int] | None = None,
    notify_url: str | None = None,
    scenario: str | None = None,
    shortfall: dict[str, int] | None = None,
) -> str:
    """Respond to a network attack. Give a new `report`, or the `incident_id` of an opened one."""
    return run_incident(
        IncidentType.network_attack,
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
