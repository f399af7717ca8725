"""Flow runs are named after their incident (`INC-1A2B3C4D Payment gateway down`, drills
`DRILL INC-...`), so the Prefect UI's run list reads as an incident list. Masked: a name
leaves irp in the UI, in logs and in events."""

from __future__ import annotations

import logging
import textwrap
from typing import Any

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext

from irp.incidents import stages
from irp.redact import default_redactor

MAX_NAME = 120
STATED = ("intake", "report")
"""Flow parameters that carry what a reporter states (personal data)."""
log = logging.getLogger("irp.flows")


def incident_run_name(incident_id: str | None, summary: str, *, drill: bool) -> str:
    """`[DRILL ]INC-... summary`, personal data masked, one line, at most MAX_NAME long."""
    head = " ".join(p for p in ("DRILL" if drill else "", incident_id or "") if p)
    title = default_redactor().redact(" ".join(summary.split()))
    return textwrap.shorten(f"{head} {title}".strip(), MAX_NAME, placeholder="...")


def flow_run_name() -> str:
    """Prefect's `flow_run_name`, asked as a run starts: an alert's run knows its incident
    already; a reported one is named after its intake until the incident is recorded."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return "incident"
    params: dict[str, Any] = context.parameters or {}
    try:
        incident = stages.driven_incident(params.get("incident_id"), str(context.flow_run.id))
    except Exception as exc:  # noqa: BLE001  (a name never stops an incident's run)
        log.warning("naming flow run %s: %s", context.flow_run.id, type(exc).__name__)
        incident = None
    if incident is not None:
        return incident_run_name(incident.id, incident.summary, drill=incident.drill)
    intake = params.get("intake")
    summary = getattr(intake, "summary", None) or (context.flow.name if context.flow else "")
    return incident_run_name(None, str(summary), drill=bool(params.get("drill")))


def name_run(incident_id: str) -> None:
    """Once the incident is recorded its run carries its id (a reported run learns it now), and
    its parameters keep the id instead of what the reporter stated: Prefect stores and shows
    parameters unmasked, and the incident holds the intake now."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    incident = stages.read_incident(incident_id)
    name = incident_run_name(incident.id, incident.summary, drill=incident.drill)
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
