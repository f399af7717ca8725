"""Notifications and regulatory clocks at each stage point, never failing the incident.

`notify_task` and `tick_clocks_task` carry the retry policy for the stack or other callers.
Inside an incident flow `announce`/`tick_clocks` run their bodies in the flow instead (task
runs written right before a gate made the Prefect server's SQLite refuse the resume: "database
is locked"). A flow only queues its messages (the outbox) and goes on: the delivery worker
sends them with the retry rules of irp.notify.delivery, so a dead target never holds a stage.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.notify import clocks, service
from models.plan import Plan
from tasks.common import run_link


def notify_url() -> str | None:
    """The run's `notify_url` parameter (a drill's override of every channel), if any."""
    return _notify_url(None)


def _notify_url(notify_url: str | None) -> str | None:
    """The run's `notify_url` parameter when the caller does not pass one (gate hooks)."""
    if notify_url is not None:
        return notify_url
    value = (flow_run.parameters or {}).get("notify_url")
    return str(value) if value else None


@task(name="notify", retries=2, retry_delay_seconds=[0.5, 2], cache_policy=NO_CACHE)
def notify_task(
    incident_id: str,
    event: str,
    plan: Plan,
    notify_url: str | None,
    extra: dict[str, Any],
    audiences: list[str],
    drill_file: bool,
) -> list[int]:
    """Start matching clocks, queue the event (the delivery worker sends it), then (an
    auto-approved drill) file the notices its regulator drafts are for, as the drill policy."""
    with session_scope() as session:
        clocks.start_clocks(session, incidents.get_incident(session, incident_id), plan)
    sent = service.notify(
        incident_id,
        event,
        plan=plan,
        notify_url=notify_url,
        extra=extra,
        audiences=audiences,
        wait=False,
    )
    if drill_file:
        with session_scope() as session:
            incident = incidents.get_incident(session, incident_id)
            if incident.drill:
                clocks.file_drill_notices(session, incident, by=plan.drill.decider)
    return sent


@task(name="tick-clocks", retries=2, retry_delay_seconds=[0.5, 2], cache_policy=NO_CACHE)
def tick_clocks_task(incident_id: str, plan: Plan, notify_url: str | None) -> int:
    return service.tick_clocks(incident_id, lambda _: plan, notify_url=notify_url, wait=False)


def announce(
    incident_id: str,
    event: str,
    plan: Plan,
    *,
    notify_url: str | None = None,
    extra: dict[str, Any] | None = None,
    audiences: list[str] | tuple[str, ...] = (),
    drill_file: bool = False,
) -> None:
    """Notify a stage event from a flow; a failure is logged, never raised."""
    extra = dict(extra or {})
    if event in ("gate_waiting", "gate_escalated"):
        run_id = extra.get("flow_run_id") or flow_run.get_id()
        extra["flow_run_id"] = run_id
        extra["run_link"] = run_link(run_id)
    try:  # in the flow, not a task run: extra task runs near a gate slow its resume
        notify_task.fn(
            incident_id, event, plan, _notify_url(notify_url), extra, list(audiences), drill_file
        )
    except Exception as exc:
        get_run_logger().warning("notifications for %s of %s failed: %s", event, incident_id, exc)


def announce_gate(
    incident_id: str,
    event: str,
    plan: Plan,
    *,
    extra: dict[str, Any],
    audiences: list[str],
) -> None:
    """A gate event, sent in the flow itself rather than as a task run: right before a pause
    a task run's state writes compete with the resume for the Prefect server's database."""
    extra = dict(extra)
    run_id = extra.get("flow_run_id") or flow_run.get_id()
    extra["flow_run_id"] = run_id
    extra["run_link"] = run_link(run_id)
    service.notify(
        incident_id,
        event,
        plan=plan,
        notify_url=_notify_url(None),
        extra=extra,
        audiences=audiences,
        wait=False,
    )


def tick_clocks(incident_id: str, plan: Plan, notify_url: str | None = None) -> None:
    """Check the incident's clocks at a stage boundary under the run's plan; a failure is
    logged, never raised."""
    try:
        tick_clocks_task.fn(incident_id, plan, _notify_url(notify_url))
    except Exception as exc:
        get_run_logger().warning("clock check for %s failed: %s", incident_id, exc)
