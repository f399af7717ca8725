"""Answering a manual task from a shell (the CLI's Prefect side): the answer is admitted and
recorded first, then the incident's run, paused or suspended on the tasks form, is resumed so
it reads the answer at once (a run busy elsewhere reads it when it next looks)."""

from __future__ import annotations

import logging
from uuid import UUID

from deployments.runs import saved_input, wait_until_paused
from irp.db import session_scope
from irp.incidents import service as incidents
from irp.plan.loader import plan_for
from irp.response import manual
from models import ManualTask

log = logging.getLogger("irp.tasks")
TASKS_PAUSE_PREFIX = "tasks-"
RUN_BUSY_S = 60.0


def answer(task_id: int, given: manual.TaskAnswer) -> tuple[ManualTask, bool]:
    """Record the answer (TaskRefused if the plan does not admit it); return the task and
    whether a waiting run was resumed with it."""
    with session_scope() as session:
        task = manual.get_task(session, task_id)
        incident = incidents.get_incident(session, task.incident_id)
        task = manual.answer_task(session, plan_for(incident), task_id, given)
        session.expunge(task)
        run_id = incident.flow_run_id
    if run_id is None:
        return task, False
    try:
        return task, _resume(UUID(run_id), task, given)
    except Exception as exc:  # noqa: BLE001  (recorded: a run that cannot be reached reads it later)
        log.warning("run %s of task %s not reached: %s", run_id, task.id, type(exc).__name__)
        return task, False


def _resume(run_id: UUID, task: ManualTask, given: manual.TaskAnswer) -> bool:
    """Resume the run if it waits on the tasks form; False if it waits elsewhere or not at all."""
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run
    from prefect.input import keyset_from_paused_state

    # A run busy in its task loop may have read the tasks just before this answer: it is
    # about to pause on a form that still offers this task, so wait for that pause.
    wait_until_paused(run_id, deadline_s=RUN_BUSY_S)
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        key = state.state_details.pause_key if state is not None else None
        if state is None or not state.is_paused() or not (key or "").startswith(TASKS_PAUSE_PREFIX):
            return False
        # The run saves its form just after pausing; until then the server checks nothing.
        keyset = keyset_from_paused_state(state)
        schema = saved_input(client, run_id, keyset["schema"], deadline_s=RUN_BUSY_S)
    if schema is None or task.id not in schema["properties"]["task"].get("enum", []):
        return False  # a form made after the answer was recorded: the run knows already
    run_input = {  # the code was spent recording the answer: the run finds it answered
        "task": task.id,
        "outcome": given.outcome,
        "by": task.data.get("person", given.by),
        "note": given.note,
        "evidence": given.evidence or "",
    }
    try:
        resume_flow_run(run_id, run_input=run_input)
    except Exception as exc:  # noqa: BLE001  (recorded already: the run reads it when it looks)
        log.warning("resuming run %s after task %s: %s", run_id, task.id, type(exc).__name__)
        return False
    return True
