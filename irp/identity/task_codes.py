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
    channels, as gates' codes); the number reached."""
    with session_scope() as session:
        drill = incidents.get_incident(session, task.incident_id).drill
        override = drill_channels(plan, notify_url) if drill else None
        return service.issue(session, asked(task), deciders(plan, owners), override=override)
