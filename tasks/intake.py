"""Report stage (PLAN 4.1): record what the reporter states."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.runtime import flow_run
from sqlmodel import select

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.incidents.naming import run_name_of
from models import Incident
from models.enums import IncidentType, Stage
from models.intake import IncidentIntake, IncidentReport
from tasks.common import DB_TASK


@task(name="record-intake", **DB_TASK)
def record_intake(
    incident_type: IncidentType,
    intake: IncidentIntake | None,
    incident_id: str | None,
    drill: bool,
    options: dict[str, Any],
) -> str:
    """Open the incident, or attach this run to an existing one (alert dispatch, re-run)."""
    run_id = flow_run.get_id()
    with session_scope() as session:
        if incident_id is None and run_id:
            # A suspended run resumed from the top: the incident it opened is already its own.
            attached = session.exec(select(Incident).where(Incident.flow_run_id == run_id)).first()
            incident_id = attached.id if attached is not None else None
        if incident_id is None:
            if intake is None:
                raise ValueError("intake: give an intake or an incident_id")
            incident = incidents.open_incident(
                session, incident_type, intake, drill=drill, options=options
            )
        else:
            incident = incidents.get_incident(session, incident_id)
            if incident.type != incident_type:
                raise ValueError(
                    f"incident_id: {incident_id} is a {incident.type.value}, not {incident_type.value}"
                )
        if run_id and incident.flow_run_id != run_id:
            incident.flow_run_id = run_id
            session.add(incident)
            timeline.record(
                session,
                incident.id,
                incident.stage,
                "flow_run_attached",
                f"Flow run {run_name_of(incident)} drives this incident",
                data={"flow_run_id": run_id},
            )
        if not timeline.stage_completed(session, incident.id, Stage.report):
            incidents.complete_stage(session, incident, Stage.report, "report recorded")
        return incident.id


@task(name="record-report", **DB_TASK)
def record_report(report: IncidentReport | None, incident_id: str | None) -> str:
    """Open the incident a person reported in the short form (its type, or unknown), or find
    the one this run drives."""
    run_id = flow_run.get_id()
    with session_scope() as session:
        if incident_id is None and run_id:
            attached = session.exec(select(Incident).where(Incident.flow_run_id == run_id)).first()
            incident_id = attached.id if attached is not None else None
        if incident_id is not None:
            return incidents.get_incident(session, incident_id).id
        if report is None:
            raise ValueError("report: give a report or an incident_id")
        incident = incidents.open_incident(session, report.reported_type, report.intake())
        incident.flow_run_id = run_id  # a resumed run finds it (its parameters lose the report)
        session.add(incident)
        return incident.id


@task(name="choose-type", **DB_TASK)
def choose_type(incident_id: str, incident_type: IncidentType, by: str) -> None:
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        incidents.choose_type(session, incident, incident_type, by)
