"""What the stage skeleton (flows/lifecycle.py) asks and records about an incident: each
function is one call and one transaction, so the flow holds no database session."""

from __future__ import annotations

from irp.db import session_scope
from irp.incidents import recovery, timeline
from irp.incidents import service as incidents
from models import Incident
from models.enums import IncidentStatus, Stage
from models.plan import ActionSpec, Plan

ENDED = (IncidentStatus.closed, IncidentStatus.rejected, IncidentStatus.stopped)


def read_incident(incident_id: str) -> Incident:
    """The incident as it stands now (NotFound if there is none)."""
    with session_scope() as session:
        return incidents.get_incident(session, incident_id)


def begin_stage(incident_id: str, stage: Stage, flow_run_id: str | None, *, again: bool) -> bool:
    """Enter `stage` unless the timeline says it was completed (False: skip it, unless `again`).
    Raises Superseded when another run took the incident over."""
    with session_scope() as session:
        recovery.ensure_driving(session, incident_id, flow_run_id)
        if not again and timeline.stage_completed(session, incident_id, stage):
            return False
        incidents.enter_stage(session, incidents.get_incident(session, incident_id), stage)
    return True


def finish_stage(incident_id: str, stage: Stage) -> None:
    with session_scope() as session:
        incidents.complete_stage(session, incidents.get_incident(session, incident_id), stage)


def has_ended(incident_id: str) -> bool:
    """Rejected, stopped or closed: no further stage runs."""
    with session_scope() as session:
        return incidents.get_incident(session, incident_id).status in ENDED


def already_announced(incident_id: str, event: str) -> bool:
    """A run that resumes or takes over does not tell people again."""
    with session_scope() as session:
        return recovery.announced(session, incident_id, event)


def graded_reasons(incident_id: str) -> list[str] | None:
    """Why an earlier run graded the incident as it did; None if it was not graded yet."""
    with session_scope() as session:
        graded = recovery.recorded(session, incident_id, "graded")
        return None if graded is None else list(graded.data.get("reasons", [graded.message]))


def activate_plan(incident_id: str) -> None:
    """The leadership group activated the plan: the milestone, and the timeline says so once."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        incidents.mark_milestone(session, incident, "activated")
        if recovery.recorded(session, incident_id, "plan_activated") is None:
            timeline.record(
                session,
                incident_id,
                Stage.command,
                "plan_activated",
                "Emergency response plan activated",
            )


def confirm_restored(incident_id: str) -> None:
    """A real incident's service counts as restored once leadership signs off its cleanup (its
    question asks whether systems and data are back to normal): the time to resolve ends at a
    person's word, not at irp's checklist. Once only."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        if incident.resolved_at is not None:
            return
        incidents.mark_milestone(session, incident, "resolved")
        timeline.record(
            session,
            incident_id,
            Stage.cleanup,
            "service_restored",
            "Service restored: confirmed by the leadership's sign-off",
        )


def planned_actions(incident_id: str, plan: Plan) -> list[ActionSpec]:
    """The playbook's actions for the incident's type and subtype."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        return plan.incident_type(incident.type).actions_for(incident.subtype)


def requires_evidence(incident_id: str, plan: Plan) -> bool:
    """The incident's type keeps evidence before cleanup undoes anything."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        return plan.incident_type(incident.type).requires_evidence
