"""Deadlines that pass while no flow process runs, watched by the serve process.

- A suspended run holds no process: once its gate round is overdue the run is rescheduled,
  and the flow records the timeout itself (the policy's escalate, proceed or stop).
- Regulatory clocks remind legal and leadership at shares of their window even while every
  run waits for people: their due reminders are sent from here too.
- An open incident whose run died (serve killed, a restart, a lost host) gets a new run that
  continues where it stands (deployments/recovery.py), checked every RECOVER_EVERY_S.

Every serve host runs this watch: on PostgreSQL one deadline pass runs at a time (an advisory
lock) and each reminder is claimed once in the database, so none goes out twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.responses import OrchestrationResult, SetStateStatus
from prefect.states import Scheduled

from deployments.locks import DEADLINE_PASS, one_host
from deployments.recovery import RECOVER_EVERY_S, prepare, recover_stranded
from irp.db import session_scope
from irp.gates import waits as gate_waits
from models.base import utcnow

logger = logging.getLogger("irp.deadlines")


def resume_overdue(now: datetime | None = None) -> list[str]:
    """Reschedule every suspended run whose gate round timed out; return their incident ids."""
    now = now or utcnow()
    with session_scope() as session:
        overdue = gate_waits.overdue_suspended(session, now)
    if not overdue:
        return []
    resumed: list[str] = []
    with get_client(sync_client=True) as client:
        for wait in overdue:
            run = client.read_flow_run(UUID(wait.flow_run_id))
            state = run.state
            if state is None or not state.is_paused() or not state.state_details.pause_reschedule:
                continue  # already resumed by an answer, or not suspended
            result: OrchestrationResult[object] = client.set_flow_run_state(
                run.id, Scheduled(scheduled_time=now, name="Resuming")
            )
            if result.status == SetStateStatus.ACCEPT:
                logger.info("gate %s of %s timed out: run rescheduled", wait.gate, wait.incident_id)
                resumed.append(wait.incident_id)
    return resumed


def check_deadlines(now: datetime | None = None) -> bool:
    """One pass: reschedule overdue suspended runs, send due clock reminders. False when
    another host's pass holds the lock (it does the work; each reminder is claimed once in
    the database anyway, clocks.claim_reminder: the lock saves the duplicate work)."""
    from irp.notify import service
    from irp.plan.loader import plan_for

    with one_host(DEADLINE_PASS) as held:
        if not held:
            return False
        resume_overdue(now)
        service.tick_clocks(None, plan_for, wait=False)  # serve's delivery worker sends them
        remind_overdue_tasks(now)
    return True


def remind_overdue_tasks(now: datetime | None = None) -> int:
    """Remind the owners of overdue manual tasks and escalate to their group's leader, also
    for runs suspended without a process (each task claimed once; the waiting flow claims
    the same way)."""
    from irp.notify import service
    from irp.plan.loader import plan_for
    from irp.response import manual

    overdue = manual.take_overdue(now or utcnow(), plan_for)
    for item in overdue:
        service.notify(
            item.task.incident_id,
            "task_overdue",
            plan=item.plan,
            extra=item.extra,
            audiences=item.audience,
        )
    return len(overdue)


def watch_deadlines(
    stop: threading.Event, interval_s: float, recover_every_s: float = RECOVER_EVERY_S
) -> None:
    """Check deadlines every `interval_s` and recover stranded incidents every
    `recover_every_s` (the first time once serve has had that long to register its
    deployments) until `stop` is set; a failed pass is retried."""
    _guarded("crash automation setup", prepare, recover_every_s)
    recover_at = time.monotonic() + recover_every_s
    while True:
        if time.monotonic() >= recover_at:
            recover_at = time.monotonic() + recover_every_s
            _guarded("recovery", recover_stranded, recover_every_s)
        if stop.wait(interval_s):
            return
        _guarded("deadline check", check_deadlines, interval_s)


def _guarded(what: str, check: Callable[[], object], retry_s: float) -> None:
    try:
        check()
    except Exception:  # a database or API hiccup must not end the watch for every incident
        logger.exception("%s failed; retrying in %.1f s", what, retry_s)


def start_deadline_watch(interval_s: float) -> threading.Event:
    """Watch in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(
        target=watch_deadlines, args=(stop, interval_s), name="irp-deadlines", daemon=True
    ).start()
    return stop
