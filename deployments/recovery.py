"""No stranded incident: find open incidents whose flow run is not alive and start a new run
that continues from where the incident stands (the rules are in irp/incidents/recovery.py).

Prefect says which runs are dead. A run's process that exits on a signal marks it Crashed; a
run paused in a process that died is failed by Prefect once its pause times out ("paused and
never resumed"). A SIGKILLed process, or a lost host, leaves its run Running: every run sends a
heartbeat every 30 s, and the automation `ensure_crash_automation` creates (Prefect's "detect
zombie flows" recipe) marks a served run Crashed when its heartbeats stop, or never start after
a runner took the run (Pending: a host lost while the run's process was starting). Sooner on
the host it ran on: a run labels itself with its process (irp/incidents/run_process.py), and
the watch there sees at once that the process is gone, marks the run Crashed and starts the
new one.

The serve process's watch (deployments/deadlines.py) calls `recover_stranded` every
RECOVER_EVERY_S; `irp incidents recover` calls `recover`. The new run goes to the crashed run's
deployment (else the type's `<flow>/irp`) with the incident id; its idempotency key is derived
from the dead run, so two recoverers at once get the same new run, and a conditional UPDATE of
the incident's flow_run_id lets exactly one of them record it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from deployments.locks import CRASH_AUTOMATION, one_host
from deployments.names import deployment_name
from irp.db import session_scope
from irp.errors import IrpError
from irp.incidents import recovery
from irp.incidents import service as incidents
from irp.incidents.recovery import Health, RunState
from irp.incidents.run_process import process_gone
from irp.settings import get_settings
from models.base import utcnow

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

log = logging.getLogger("irp.incidents.recovery")

RECOVER_EVERY_S = 10.0
AUTOMATION = "irp: crash served flow runs whose heartbeats stopped"
PROCESS_GONE = "Its process on this host is gone"
_automation_ready = False
_limits_said: set[str] = set()  # incidents left to a person: said once per process


@dataclass(frozen=True)
class Outcome:
    """What recovery did about one incident, in words for a person and a log."""

    incident_id: str
    run_id: str | None
    state: RunState | None
    action: str
    """started | alive | left | limited | taken | nothing | failed"""
    new_run_id: str | None = None
    note: str = ""

    @property
    def message(self) -> str:
        run = f"run {self.run_id} {self.state.describe()}" if self.state else "no flow run"
        said = {
            "started": f"{run}; started run {self.new_run_id}, continuing where it stands",
            "alive": f"{run}: alive, nothing to do",
            "left": f"{run}; not restarted automatically (its own failure or a person's "
            f"cancel): `irp incidents recover {self.incident_id}` starts it again",
            "limited": f"{run}; restarted {recovery.AUTO_LIMIT} times within the hour, left "
            f"for a person: `irp incidents recover {self.incident_id}`",
            "taken": f"{run}; already taken over by run {self.new_run_id}",
            "nothing": f"{self.note}: nothing to recover",
            "failed": f"{run}; could not start a new run: {self.note}",
        }[self.action]
        return f"{self.incident_id}: {said}"


def recover(
    incident_id: str | None = None, *, by: str, include_stopped: bool = False
) -> list[Outcome]:
    """Start a new run for each stranded open incident (or the one named); `include_stopped`
    also restarts runs that failed by their own error or were cancelled (a person's call).
    The serve process (`by=WATCH`) restarts one incident at most AUTO_LIMIT times an hour."""
    with session_scope() as session:
        runs = recovery.incidents_with_runs(session, incident_id)
        if incident_id is not None and not runs:
            incident = incidents.get_incident(session, incident_id)  # NotFound: no such incident
            note = incident.status.value + ("" if incident.flow_run_id else ", no flow run yet")
            return [Outcome(incident_id, incident.flow_run_id, None, "nothing", note=note)]
    if not runs:
        return []
    from prefect.client.orchestration import get_client

    outcomes: list[Outcome] = []
    with get_client(sync_client=True) as client:
        found = _read_runs(client, list(runs.values()))
        for iid, run_id in runs.items():
            flow_run = found.get(run_id)
            state = _state_of(flow_run)
            if state.health == Health.alive:
                outcome = Outcome(iid, run_id, state, "alive")
            elif state.health == Health.stopped and not include_stopped:
                outcome = Outcome(iid, run_id, state, "left")
            elif by == recovery.WATCH and not state.settled(utcnow()):
                continue  # next pass
            elif by == recovery.WATCH and _at_limit(iid):
                outcome = Outcome(iid, run_id, state, "limited")
            else:
                if state.message == PROCESS_GONE:
                    _mark_crashed(client, run_id)
                try:
                    outcome = _start_again(client, iid, run_id, flow_run, state, by)
                except IrpError as exc:
                    if incident_id is not None:
                        raise
                    outcome = Outcome(iid, run_id, state, "failed", note=str(exc))
            outcomes.append(outcome)
    return outcomes


def run_health(run_ids: list[str]) -> dict[str, RunState]:
    """What Prefect says about these runs (VANISHED when it has no such run)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = _read_runs(client, run_ids)
    return {r: _state_of(found.get(r)) for r in run_ids}


def prepare() -> None:
    """Once per process: make sure Prefect marks dead served runs Crashed."""
    global _automation_ready
    if not _automation_ready:
        with one_host(CRASH_AUTOMATION, wait=True):  # hosts starting together create one
            ensure_crash_automation(get_settings().run_heartbeat_timeout_s)
        _automation_ready = True


def recover_stranded() -> list[Outcome]:
    """One pass of the serve process's watch: start the stranded incidents again."""
    prepare()
    outcomes = recover(by=recovery.WATCH)
    for outcome in outcomes:
        if outcome.action in ("started", "failed") or (
            outcome.action == "limited" and outcome.incident_id not in _limits_said
        ):
            log.warning("%s", outcome.message)
    _limits_said.update(o.incident_id for o in outcomes if o.action == "limited")
    return outcomes


def ensure_crash_automation(within_s: float) -> None:
    """Create (or correct) the automation that marks a served run Crashed when its heartbeats
    stop for `within_s`: Prefect's recipe for zombie runs. The watch also opens when a runner
    takes a run (Pending): its process sends the first heartbeat as it starts the run, and a
    process that died before that sends none, so no later heartbeat could go missing. Pending is
    also expected, as a heartbeat is: Prefect keeps an open window rather than start another, so
    a run resumed within the window of its last heartbeat would otherwise not be watched. A run
    that ends, suspends at a gate (no process: no heartbeats), is cancelled or goes back to
    waiting for a runner says so with an event, which closes the watch."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification
    from prefect.settings import get_current_settings

    heartbeat_s = get_current_settings().flows.heartbeat_frequency or 30
    within = timedelta(seconds=max(within_s, 1.5 * heartbeat_s))
    wanted = AutomationCore(
        name=AUTOMATION,
        description="Marks a served irp flow run Crashed when its heartbeats stop, so that "
        "the serve process starts its incident again (deployments/recovery.py).",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat", "prefect.flow-run.Pending"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Pending",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
                "prefect.flow-run.Suspended",
                "prefect.flow-run.Scheduled",
                "prefect.flow-run.AwaitingRetry",
                "prefect.flow-run.AwaitingConcurrencySlot",
            },
            match=ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"}),
            match_related=ResourceSpecification({"prefect.resource.role": "deployment"}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                name="Crashed",
                state=StateType.CRASHED,
                force=False,
                message=f"No heartbeat for {within.total_seconds():g} s: its process is gone",
            )
        ],
    )
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION)
        if not existing:
            client.create_automation(wanted)
        elif existing[0].trigger != wanted.trigger or existing[0].actions != wanted.actions:
            client.update_automation(existing[0].id, wanted)


def _read_runs(client: SyncPrefectClient, run_ids: list[str]) -> dict[str, FlowRun]:
    """The runs Prefect knows, read 200 at a time (the API's page limit)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    found: dict[str, FlowRun] = {}
    ids = sorted({UUID(r) for r in run_ids if _is_uuid(r)})
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        for run in client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=200
        ):
            found[str(run.id)] = run
    return found


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _state_of(flow_run: FlowRun | None) -> RunState:
    if flow_run is None or flow_run.state is None:
        return recovery.VANISHED
    state = flow_run.state
    if process_gone(dict(flow_run.labels), state.type.value, state.name or "", state.timestamp):
        return RunState("CRASHED", "Crashed", PROCESS_GONE, state.timestamp)
    return RunState(
        state.type.value, state.name or state.type.value, state.message or "", state.timestamp
    )


def _mark_crashed(client: SyncPrefectClient, run_id: str) -> None:
    """Tell Prefect what this host knows: the run's process is gone (the UI then shows it
    Crashed at once, and nobody answers a gate that no process waits at)."""
    from prefect.states import Crashed

    client.set_flow_run_state(UUID(run_id), Crashed(message=PROCESS_GONE), force=True)


def _at_limit(incident_id: str) -> bool:
    with session_scope() as session:
        done = recovery.recent_auto_recoveries(session, incident_id, utcnow())
    return done >= recovery.AUTO_LIMIT


def _start_again(
    client: SyncPrefectClient,
    incident_id: str,
    old_run_id: str,
    old_run: FlowRun | None,
    state: RunState,
    by: str,
) -> Outcome:
    """Create the new run (the same one for every recoverer of this dead run) and attach it."""
    from prefect.exceptions import ObjectNotFound

    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        params = recovery.restart_parameters(incident, old_run.parameters if old_run else None)
        fallback = deployment_name(incident.type)
    deployment = None
    if old_run is not None and old_run.deployment_id is not None:
        try:
            deployment = client.read_deployment(old_run.deployment_id)
        except ObjectNotFound:
            deployment = None
    try:
        deployment = deployment or client.read_deployment_by_name(fallback)
    except ObjectNotFound as exc:
        raise IrpError(f"deployment {fallback} not found: is `irp up` running?") from exc
    new_run = client.create_flow_run_from_deployment(
        deployment.id,
        parameters=params,
        name=old_run.name if old_run else None,
        idempotency_key=f"irp-recover-{incident_id}-{old_run_id}",
    )
    new_run_id = str(new_run.id)
    with session_scope() as session:
        if recovery.claim(session, incident_id, old_run_id, new_run_id):
            recovery.record_recovery(session, incident_id, old_run_id, state, new_run_id, by)
            return Outcome(incident_id, old_run_id, state, "started", new_run_id)
        current = incidents.get_incident(session, incident_id).flow_run_id
        if current == new_run_id and not recovery.recovered_into(session, incident_id, new_run_id):
            # The new run started and attached itself before this claim.
            recovery.record_recovery(session, incident_id, old_run_id, state, new_run_id, by)
            return Outcome(incident_id, old_run_id, state, "started", new_run_id)
    return Outcome(incident_id, old_run_id, state, "taken", current)


@contextmanager
def prefect_api() -> Iterator[str]:
    """The Prefect API this shell command points at (PREFECT_API_URL, or the running stack's
    after `point_prefect_at_stack`); none or an unreachable one is an IrpError, never a
    traceback or a temporary server."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        raise IrpError("no Prefect API: start the stack with `irp up` (or set PREFECT_API_URL)")
    import httpx

    try:
        yield url
    except httpx.HTTPError as exc:
        raise IrpError(f"the Prefect API at {url} did not answer: {exc}") from exc


def run_column(rows: list[dict[str, object]]) -> dict[str, str]:
    """`irp incidents list`'s run column for open incidents: `alive`, `NOT ALIVE: <state>`,
    or `?` when no Prefect API answers."""
    runs = {
        str(r["id"]): str(r["flow_run_id"])
        for r in rows
        if r.get("flow_run_id") and r.get("status") in recovery.RUNNING_STATUSES
    }
    if not runs:
        return {}
    try:
        with prefect_api():
            states = run_health(list(runs.values()))
    except IrpError:
        return dict.fromkeys(runs, "?")
    return {
        iid: "alive" if states[r].health == Health.alive else f"NOT ALIVE: {states[r].name}"
        for iid, r in runs.items()
    }
