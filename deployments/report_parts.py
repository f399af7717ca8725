"""Writing a group's part of the post-incident report from a shell (`irp report-part`): the
same check the flow makes, then the waiting run resumes with it, as the UI form does."""

from __future__ import annotations

from deployments.runs import resume_waiting_run
from irp.db import session_scope
from irp.duties import report_parts as parts
from irp.incidents import service as incidents
from irp.plan.loader import plan_for


def write_part(incident_id: str, answer: parts.PartAnswer) -> int:
    """Send the part to the run waiting for it; return the report revision it belongs to.
    InvalidInput names the field when the group has no part due or the author is not in it."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        plan = plan_for(incident)
        waiting = parts.waiting(session, plan, incident)
        role = parts.admit(session, plan, incident_id, waiting.revision, answer)
    run_input = {
        "group": answer.group,
        "author": role,
        "did": answer.did,
        "cause": answer.cause,
        "lessons": answer.lessons,
    }
    resume_waiting_run(incident_id, incident.flow_run_id, run_input, "its report parts")
    return waiting.revision
