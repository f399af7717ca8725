"""Command stage (PLAN 4.2): grade the incident and record the commander."""

from __future__ import annotations

from prefect import task

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.incidents.grading import grade
from models.enums import Priority, Stage
from models.plan import Plan
from tasks.common import DB_TASK


@task(name="grade-incident", **DB_TASK)
def grade_incident(incident_id: str, plan: Plan) -> list[str]:
    """Set priority and national grade from the plan's criteria; return the reasons."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        result = grade(incident.facts, plan.grading)
        incident.priority = result.priority
        incident.national_grade = result.national_grade
        commander = plan.organisation.commander
        incident.commander = f"{plan.role_person(commander)} ({commander})"
        session.add(incident)
        timeline.record(
            session,
            incident_id,
            Stage.command,
            "graded",
            f"Graded {result.priority.value}, national grade {result.national_grade.value}: "
            + "; ".join(result.reasons),
            data={
                "priority": result.priority.value,
                "national_grade": result.national_grade.value,
                "reasons": result.reasons,
            },
        )
        return result.reasons


@task(name="override-priority", **DB_TASK)
def override_priority(incident_id: str, priority: Priority, by: str) -> None:
    """A decider changed the priority at the gate: re-grade and say so on the timeline."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        before = incident.priority.value if incident.priority else "-"
        incident.priority = priority
        session.add(incident)
        timeline.record(
            session,
            incident_id,
            Stage.command,
            "regraded",
            f"Priority changed {before} -> {priority.value} by {by}",
            actor=by,
        )
