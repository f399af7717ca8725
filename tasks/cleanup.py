"""Cleanup stage (PLAN 4.5): undo containment, check integrity, audit, release resources."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from irp.db import session_scope
from irp.incidents import recovery, timeline
from irp.incidents import service as incidents
from irp.response import actions, custody, executors, logistics
from models.enums import ActionStatus, Stage
from models.plan import ActionSpec, Plan, UndoSpec
from tasks.common import DB_TASK

# Containment measures cleanup looks at: taken, or described by a drill that held them back.
UNDOABLE = (ActionStatus.succeeded, ActionStatus.not_run)
SIMULATED_UNDO = (
    "the plan's undo is `simulate`: nothing was undone, the measure stays until undone by hand"
)


@task(name="evidence-on-record", **DB_TASK)
def evidence_on_record(incident_id: str) -> int:
    """How many evidence items a case that keeps evidence has before its cleanup."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        return len(custody.preserved(session, incident))


@task(name="evidence-task", **DB_TASK)
def evidence_task(incident_id: str, plan: Plan) -> ActionSpec:
    """The work cleanup waits for when no evidence is on record."""
    with session_scope() as session:
        return custody.cleanup_task(plan, incidents.get_incident(session, incident_id))


@task(
    name="undo-containment",
    retries=3,
    retry_delay_seconds=[1, 4, 16],
    retry_jitter_factor=0.5,
    timeout_seconds=300,
    cache_policy=NO_CACHE,
)
def undo_containment(incident_id: str, plan: Plan) -> list[str]:
    """Undo each containment measure as declared, or record why it stays."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        specs = {a.key: a for a in plan.incident_type(incident.type).playbook}
        todo = [
            r
            for r in actions.runs(session, incident_id)
            if r.containment and r.status in UNDOABLE and r.undo_status is None
        ]
        drill = incident.drill
    done: list[str] = []
    for run in todo:
        undo = specs[run.action].undo if run.action in specs else None
        with session_scope() as session:
            current = actions.get_run(session, incident_id, run.action)
            assert current is not None
            if run.status == ActionStatus.not_run:
                actions.record_undo_not_run(session, current, _nothing_to_undo(undo))
            elif undo is None:
                actions.record_undo(session, current, "kept", "no undo declared in the plan")
            elif undo.keep is not None:
                actions.record_undo(session, current, "kept", undo.keep)
            elif executors.simulated_for_real(undo.executor, drill):
                actions.record_undo(session, current, "kept", SIMULATED_UNDO)
            elif executors.held_back(undo.executor, undo.drill_safe, drill):
                would = executors.would_do(str(undo.executor), undo.params)
                actions.record_undo_not_run(session, current, would)
            else:
                assert undo.executor is not None
                ctx = executors.ActionContext(incident_id, f"undo_{run.action}", 1, 120, drill)
                executors.run(undo.executor, undo.params, ctx)
                operation = undo.params.get("operation", f"undo {run.action}")
                actions.record_undo(session, current, "undone", str(operation))
        done.append(run.action)
    return done


def _nothing_to_undo(undo: UndoSpec | None) -> str:
    """The cleanup line for a measure a drill never took: its undo is described, not run."""
    note = "nothing to undo, the measure was not run"
    if undo is not None and undo.executor is not None:
        note += f"; its undo {executors.would_do(undo.executor, undo.params)}"
    return note


@task(name="verify-recovery", **DB_TASK)
def verify_recovery(incident_id: str, plan: Plan) -> None:
    """Data-integrity checks and the security-audit checklist, on the timeline. A drill's
    service counts as restored here; a real incident's only when leadership signs off its
    cleanup (stages.confirm_restored): irp itself restores nothing."""
    with session_scope() as session:
        if recovery.recorded(session, incident_id, "service_restored") or recovery.recorded(
            session, incident_id, "restoration_pending"
        ):
            return  # a run resumed or taken over at sign-off: the checklist stands
        incident = incidents.get_incident(session, incident_id)
        verdict = "simulated pass (drill)" if incident.drill else "to confirm at sign-off"
        for check in plan.cleanup.integrity_checks:
            timeline.record(
                session, incident_id, Stage.cleanup, "integrity_check", f"{check}: {verdict}"
            )
        for item in plan.cleanup.audit_checklist:
            timeline.record(session, incident_id, Stage.cleanup, "audit_item", f"{item}: {verdict}")
        if not incident.drill:
            timeline.record(
                session,
                incident_id,
                Stage.cleanup,
                "restoration_pending",
                "Service restoration: to confirm at the leadership's sign-off",
            )
            return
        incidents.mark_milestone(session, incident, "resolved")
        timeline.record(
            session, incident_id, Stage.cleanup, "service_restored", "Service restored (drill)"
        )


@task(name="release-resources", **DB_TASK)
def release_resources(incident_id: str) -> int:
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        return len(logistics.release(session, incident))
