"""Sending a manual task's codes (apart from irp/identity/tasks.py, which checks them, since
the core that admits answers needs no notification code)."""

from __future__ import annotations

from irp.db import session_scope
from irp.identity import service
from irp.identity.gates import drill_channels
from irp.identity.people import deciders
from irp.identity.tasks import asked
from irp.incidents import service as incidents
from models import ManualTask
from models.plan import Plan


def send_codes(task: ManualTask, plan: Plan, owners: list[str], notify_url: str | None) -> int:
    """Each person holding an owner role gets a code and a link (in a drill: over the drill's
    channels, as gates' codes), once: a run that takes over sends those a dead process had not
    sent yet. The number reached (0 when they went out before)."""
    question = asked(task)
    with session_scope() as session:
        if service.issued(session, task.incident_id, question.subject, question.round):
            return 0
        drill = incidents.get_incident(session, task.incident_id).drill
        override = drill_channels(plan, notify_url) if drill else None
        return service.issue(session, question, deciders(plan, owners), override=override)
