"""Stranded incidents: an open incident whose flow run is no longer alive, and how a new run
takes over from where the incident stands. No Prefect here: deployments/recovery.py reads the
runs' states and starts the new run.

A run is *stranded* (restarted without asking anyone) when its process died: Prefect marked it
Crashed (a signal, or its heartbeats stopped and the zombie automation fired), its in-process
pause expired with nobody left to resume it ("paused and never resumed"), a stopping runner
cancelled it, or Prefect does not know it any more. A run that failed by its own error (an
action failed after retries) or that a person cancelled is not alive either, but starting it
again is a person's call (`irp incidents recover ID`): an automatic restart would only repeat
the failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from irp.errors import IrpError
from irp.incidents import timeline
from models import Incident, Notification, TimelineEvent
from models.enums import IncidentStatus

RECOVERED = "run_recovered"
WATCH = "watch"
"""Who recovers automatically: the serve process's watch (a person's recoveries say `cli`)."""
SETTLE = timedelta(seconds=10)
"""The serve process leaves a Failed run this long before acting on it: a run whose pause ran
out while an answer raced in is failed by Prefect and set running again by its own process
within a second."""
AUTO_LIMIT = 3
"""Automatic restarts of one incident per AUTO_WINDOW: a run that crashes every time it starts
is left to a person instead of being restarted for ever."""
AUTO_WINDOW = timedelta(hours=1)

# Prefect's messages for states a dead process leaves behind (prefect 3.9, see PREFECT_NOTES.md).
_DEAD_PROCESS_MESSAGES = ("never resumed", "Runner is shutting down")
_ALIVE_TYPES = frozenset({"SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"})
RUNNING_STATUSES = (IncidentStatus.open, IncidentStatus.active, IncidentStatus.blocked)
"""Open incidents that should have a live flow run (pending_dispatch has none yet)."""


class Health(StrEnum):
    alive = "alive"
    stranded = "stranded"
    """Not alive because its process died: recovery restarts it."""
    stopped = "stopped"
    """Not alive by its own error or a person's cancel: restarted only when a person asks."""


@dataclass(frozen=True)
class RunState:
    """What Prefect says about a flow run, as plain data."""

    type: str
    """Prefect's state type (RUNNING, CRASHED, ...), or VANISHED when Prefect has no such run."""
    name: str
    message: str = ""
    since: datetime | None = None
    """When Prefect entered this state."""

    @property
    def health(self) -> Health:
        if self.type in _ALIVE_TYPES:
            return Health.alive
        if self.type in ("CRASHED", "VANISHED"):
            return Health.stranded
        if self.type in ("FAILED", "CANCELLED") and any(
            m in self.message for m in _DEAD_PROCESS_MESSAGES
        ):
            return Health.stranded
        return Health.stopped

    def settled(self, now: datetime) -> bool:
        """False for a failed pause younger than SETTLE: its process may be setting it
        running again."""
        return self.type != "FAILED" or self.since is None or now - self.since >= SETTLE

    def describe(self) -> str:
        """`Crashed`, `Failed (The flow was paused and never resumed.)`, `vanished`."""
        return f"{self.name} ({self.message})" if self.message else self.name


VANISHED = RunState("VANISHED", "vanished")


class Superseded(IrpError):
    """This run no longer drives its incident: recovery started another one (it was taken for
    dead). It stops instead of deciding or recording anything twice."""


def ensure_driving(session: Session, incident_id: str, run_id: str | None) -> None:
    """Raise Superseded unless this flow run is still the incident's run."""
    current = session.exec(select(Incident.flow_run_id).where(Incident.id == incident_id)).first()
    if run_id is not None and current is not None and current != run_id:
        raise Superseded(f"{incident_id}: run {run_id} was superseded by run {current}")


def incidents_with_runs(session: Session, incident_id: str | None = None) -> dict[str, str]:
    """Open incidents (or the one asked for) that have a flow run: incident id -> run id.
    An incident still pending dispatch has none yet: the dispatcher starts it."""
    query = select(Incident.id, Incident.flow_run_id).where(
        col(Incident.status).in_(RUNNING_STATUSES), col(Incident.flow_run_id).is_not(None)
    )
    if incident_id is not None:
        query = query.where(Incident.id == incident_id)
    return {i: str(r) for i, r in session.exec(query)}


def restart_parameters(incident: Incident, previous: dict[str, Any] | None) -> dict[str, Any]:
    """The new run's parameters: the crashed run's own (its notify URL, faults, drill policy),
    or the options the incident was opened with when Prefect lost the run; never the intake or
    report (the incident exists), always the incident id."""
    params = dict(previous or {})
    params.pop("intake", None)
    params.pop("report", None)
    if previous is None:
        params |= {k: v for k, v in incident.options.items() if k in ("auto_approve", "plan_file")}
        if "scenario" in incident.options:
            params["scenario"] = incident.options["scenario"]
    params |= {"incident_id": incident.id, "drill": incident.drill}
    return params


def claim(session: Session, incident_id: str, old_run_id: str, new_run_id: str) -> bool:
    """Point the incident at the new run if it still points at the old one: of two recoverers
    (the serve process, a person) exactly one wins and records the recovery."""
    won = session.execute(
        update(Incident)
        .where(col(Incident.id) == incident_id, col(Incident.flow_run_id) == old_run_id)
        .values(flow_run_id=new_run_id)
        .returning(col(Incident.id))
    ).first()
    return won is not None


def record_recovery(
    session: Session,
    incident_id: str,
    old_run_id: str,
    old_state: RunState,
    new_run_id: str,
    by: str,
) -> None:
    incident = session.get(Incident, incident_id)
    stage = incident.stage if incident is not None else "report"
    timeline.record(
        session,
        incident_id,
        stage,
        RECOVERED,
        f"Flow run {old_run_id} {old_state.describe()}; run {new_run_id} started by recovery "
        f"({by}) to continue from stage {stage}",
        actor=by,
        data={
            "old_flow_run_id": old_run_id,
            "old_state": old_state.name,
            "flow_run_id": new_run_id,
            "by": by,
        },
    )


def recovered_into(session: Session, incident_id: str, run_id: str) -> bool:
    """The timeline already says recovery started this run."""
    query = select(TimelineEvent).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.kind == RECOVERED
    )
    return any(e.data.get("flow_run_id") == run_id for e in session.exec(query))


def recent_auto_recoveries(session: Session, incident_id: str, now: datetime) -> int:
    """Automatic recoveries of the incident within AUTO_WINDOW."""
    query = select(TimelineEvent).where(
        TimelineEvent.incident_id == incident_id,
        TimelineEvent.kind == RECOVERED,
        col(TimelineEvent.at) >= now - AUTO_WINDOW,
    )
    return sum(1 for e in session.exec(query) if e.data.get("by") == WATCH)


def announced(session: Session, incident_id: str, event: str) -> bool:
    """The incident's `event` was already sent (or routed nowhere): a resumed, re-run or
    recovered run must not say it again."""
    rows = select(Notification.id).where(
        Notification.incident_id == incident_id, Notification.event == event
    )
    if session.exec(rows).first() is not None:
        return True
    notified = select(TimelineEvent).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "notified"
    )
    return any(e.data.get("event") == event for e in session.exec(notified))


def recorded(session: Session, incident_id: str, kind: str) -> TimelineEvent | None:
    """The incident's first timeline event of this kind, if any."""
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == kind)
        .order_by(col(TimelineEvent.id))
    )
    return session.exec(query).first()
