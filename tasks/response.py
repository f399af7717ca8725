"""Response stage (PLAN 4.3): each playbook action is a task with retries, timeout and an
idempotency key (incident + action), so a retried task or a re-run flow never acts twice."""

from __future__ import annotations

from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

from irp.db import session_scope
from irp.incidents import recovery, timeline
from irp.incidents import service as incidents
from irp.response import actions, custody, executors
from irp.settings import get_settings
from models.enums import ActionStatus, Stage
from models.plan import ActionSpec

UNCONFIRMED = "containment_unconfirmed"
# Recorded for good: a re-run returns the record instead of acting (or rehearsing) again.
COMPLETED = (
    ActionStatus.succeeded,
    ActionStatus.undone,
    ActionStatus.kept,
    ActionStatus.not_run,
    ActionStatus.simulated,
)


@task(name="execute-action", cache_policy=NO_CACHE)
def execute_action(incident_id: str, spec: ActionSpec, params: dict[str, Any]) -> dict[str, Any]:
    """One attempt of one action; a completed action returns its recorded result. A drill
    records what a live step would do instead of doing it, unless the plan marks it drill-safe."""
    with session_scope() as session:
        done = actions.get_run(session, incident_id, spec.key)
        if done is not None and done.status in COMPLETED:
            return done.result
        incident = incidents.get_incident(session, incident_id)
        if executors.held_back(spec.executor, spec.drill_safe, incident.drill):
            would = executors.would_do(spec.executor, params)
            return actions.record_not_run(session, incident_id, spec, would)
        run = actions.begin_attempt(session, incident_id, spec, spec.executor)
        ctx = executors.ActionContext(
            incident_id=incident_id,
            action=spec.key,
            attempt=run.attempts,
            timeout_s=spec.timeout_s,
            drill=incident.drill,
        )
    try:
        result = executors.run(spec.executor, params, ctx)
    except Exception as exc:
        with session_scope() as session:
            failed = actions.get_run(session, incident_id, spec.key)
            assert failed is not None
            actions.record_failure(session, failed, str(exc) or type(exc).__name__)
        raise
    with session_scope() as session:
        finished = actions.get_run(session, incident_id, spec.key)
        assert finished is not None
        if executors.simulated_for_real(spec.executor, ctx.drill):
            actions.record_simulated(session, finished, result)  # no evidence was taken either
            return result
        if spec.evidence:
            incident = incidents.get_incident(session, incident_id)
            item = custody.preserve_manifest(
                session,
                incident,
                get_settings().evidence_dir,
                what=spec.evidence,
                collected_by=spec.group,
            )
            result = {**result, "evidence_sha256": item.sha256}
        actions.record_success(session, finished, result)
        return result


def action_task(spec: ActionSpec) -> Task[..., dict[str, Any]]:
    """The action's own retry policy: exponential backoff with jitter, and a timeout."""
    return execute_action.with_options(
        name=f"action-{spec.key}",
        retries=spec.retries,
        retry_delay_seconds=[spec.retry_delay_s * 2**i for i in range(spec.retries)] or 0,
        retry_jitter_factor=spec.retry_jitter,
        timeout_seconds=spec.timeout_s,
    )


@task(name="record-escalation", cache_policy=NO_CACHE)
def record_escalation(incident_id: str, stage: Stage, message: str, to: str) -> None:
    with session_scope() as session:
        timeline.record(
            session, incident_id, stage, "escalation", message, data={"escalated_to": to}
        )


@task(name="record-skipped-action", cache_policy=NO_CACHE)
def record_skipped(incident_id: str, spec: ActionSpec, reason: str) -> None:
    with session_scope() as session:
        timeline.record(
            session,
            incident_id,
            Stage.response,
            "action_skipped",
            f"{spec.title}: not run - {reason}",
            data={"action": spec.key},
        )


@task(name="mark-contained", cache_policy=NO_CACHE)
def mark_contained(incident_id: str) -> bool:
    """Containment complete, only when every containment step was really carried out; else the
    timeline says which were held back or only simulated, and no containment time is counted."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        if incident.contained_at is not None:
            return True
        if recovery.recorded(session, incident_id, UNCONFIRMED) is not None:
            return False
        missing = actions.unconfirmed_containment(session, incident_id)
        if missing:
            timeline.record(
                session,
                incident_id,
                Stage.response,
                UNCONFIRMED,
                f"Containment not confirmed: nothing real was done for {len(missing)} "
                f"containment step(s): {'; '.join(missing)}",
            )
            return False
        incidents.mark_milestone(session, incident, "contained")
        timeline.record(session, incident_id, Stage.response, "contained", "Containment complete")
        return True
