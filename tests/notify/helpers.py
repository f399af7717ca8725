"""Shared test data for notification tests: plans routed to a receiver, incidents, sleeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.notify import worker
from models.enums import IncidentType
from tests.factories import make_intake, plan_data, write_plan
from tests.notify.receiver import Receiver

GROUP_PATHS = {
    "leadership": "/leadership",
    "technical": "/technical",
    "customer_service": "/cs",
    "legal": "/legal",
    "logistics": "/logistics",
}


class Sleeps(list[float]):
    """An injected `sleep` that records each requested wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def routed_plan(
    folder: Path, receiver: Receiver | None, **notifications: Any
) -> tuple[Path, dict[str, Any]]:
    """The default plan with each group (and role cio) posting to its own receiver path."""
    data = plan_data()
    if receiver is not None:
        for gid, path in GROUP_PATHS.items():
            data["organisation"]["groups"][gid]["notify"] = [receiver.url("json", path)]
        data["organisation"]["roles"]["cio"]["notify"] = [receiver.url("json", "/cio")]
    data["notifications"].update(notifications)
    return write_plan(folder, data), data


def open_breach(plan_file: Path, *, drill: bool = False, **facts: Any) -> str:
    intake = make_intake(IncidentType.data_breach, **facts)
    with session_scope() as session:
        incident = incidents.open_incident(
            session,
            IncidentType.data_breach,
            intake,
            drill=drill,
            options={"plan_file": str(plan_file)},
        )
        return incident.id


def sent_queued(incident_id: str | None = None) -> None:
    """Wait (bounded) until the delivery worker has settled every queued row: flows and the
    deadline watch only queue their messages."""
    assert worker.wait_delivered(incident_id, 60), "queued notifications were not settled"
