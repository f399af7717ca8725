"""A run is named after its incident (irp/incidents/naming.py): an alert's run from its
creation (the dispatch knows the incident), any other run as soon as its incident is
recorded. Prefect's `flow_run_name` is not used: it runs before the run is marked Running,
in every new process (also each resume), and would cost a database read and an API call
there."""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext

from irp.incidents import stages
from irp.incidents.naming import run_name_of

STATED = ("intake", "report")
"""Flow parameters that carry what a reporter states (personal data)."""


def name_run(incident_id: str) -> None:
    """Once the incident is recorded its run carries its name (a reported run learns it now),
    and its parameters keep the id instead of what the reporter stated: Prefect stores and
    shows parameters unmasked, and the incident holds the intake now."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    name = run_name_of(stages.read_incident(incident_id))
    stored = dict(context.flow_run.parameters)
    stated = [key for key in STATED if stored.get(key) is not None]
    if context.flow_run.name == name and not stated:
        return
    kept = {k: v for k, v in stored.items() if k not in STATED} | {"incident_id": incident_id}
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, name=name, parameters=kept if stated else None)
    context.flow_run.name = name
    if stated:
        context.flow_run.parameters = kept
