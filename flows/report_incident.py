"""`report-incident`: whoever discovers an incident reports it (PLAN 4.1) in a short form, with
its type or `unknown`; the incident is recorded, triage chooses an unknown type, and the type's
stages run in this same run (flows/triage.py says why one run)."""

from __future__ import annotations

from prefect import flow

from flows.lifecycle import run_incident
from irp.incidents import stages
from models.intake import REPORT_FLOW, IncidentReport
from tasks.intake import record_report


@flow(name=REPORT_FLOW, log_prints=True, persist_result=True)
def report_incident(
    report: IncidentReport | None = None,
    incident_id: str | None = None,
    drill: bool = False,
    auto_approve: bool = False,
    plan_file: str | None = None,
) -> str:
    """Report an incident: what happened, who you are, its type if you know it. The leadership
    group grades it; the commander chooses the type if you could not. (The other parameters
    are the run options recovery passes back when it restarts a run.)"""
    incident_id = record_report(report, incident_id)
    return run_incident(
        stages.read_incident(incident_id).type,
        incident_id=incident_id,
        drill=drill,
        auto_approve=auto_approve,
        plan_file=plan_file,
    )
