"""Flow runs are named after their incident (`INC-1A2B3C4D Payment gateway down`, drills
`DRILL INC-...`), so the Prefect UI's run list reads as an incident list. Masked: a name
leaves irp in the UI, in logs and in events."""

from __future__ import annotations

import logging
import textwrap
from typing import Any

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from sqlmodel import select

from irp.db import session_scope
from irp.errors import NotFound
from irp.incidents import service as incidents
from irp.redact import default_redactor
from models import Incident

MAX_NAME = 120
log = logging.getLogger("irp.flows")


def incident_run_name(incident_id: str | None, summary: str, *, drill: bool) -> str:
    """`[DRILL ]INC-... summary`, personal data masked, one line, at most MAX_NAME long."""
    head = " ".join(p for p in ("DRILL" if drill else "", incident_id or "") if p)
    title = default_redactor().redact(" ".join(summary.split()))
    return textwrap.shorten(f"{head} {title}".strip(), MAX_NAME, placeholder="...")


def flow_run_name() -> str:
    """Prefect's `flow_run_name`, asked as a run starts: an alert's run knows its incident
    already; a reported one is named after its report until the incident is recorded."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return "incident"
    params: dict[str, Any] = context.parameters or {}
    try:
        incident = _incident_of(params.get("incident_id"), str(context.flow_run.id))
    except Exception as exc:  # noqa: BLE001  (a name never stops an incident's run)
        log.warning("naming flow run %s: %s", context.flow_run.id, type(exc).__name__)
        incident = None
    if incident is not None:
        return incident_run_name(incident.id, incident.summary, drill=incident.drill)
    report = params.get("report")
    summary = getattr(report, "summary", None) or (context.flow.name if context.flow else "")
    return incident_run_name(None, str(summary), drill=bool(params.get("drill")))


def name_run(incident_id: str) -> None:
    """Once the incident is recorded its run carries its id (a reported run learns it now)."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        name = incident_run_name(incident.id, incident.summary, drill=incident.drill)
    if context.flow_run.name != name:
        with get_client(sync_client=True) as client:
            client.set_flow_run_name(context.flow_run.id, name)
        context.flow_run.name = name


def _incident_of(incident_id: str | None, flow_run_id: str) -> Incident | None:
    """The incident this run drives: named by the dispatch, or attached before a suspension."""
    with session_scope() as session:
        if incident_id:
            try:
                return incidents.get_incident(session, incident_id)
            except NotFound:
                return None
        query = select(Incident).where(Incident.flow_run_id == flow_run_id)
        return session.exec(query).first()
