"""Action runs: the idempotency record (incident + action) and every attempt's outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from irp.incidents import timeline
from models import ActionRun
from models.base import utcnow
from models.enums import ActionStatus, Stage
from models.plan import ActionSpec


def get_run(session: Session, incident_id: str, action: str) -> ActionRun | None:
    query = select(ActionRun).where(
        ActionRun.incident_id == incident_id, ActionRun.action == action
    )
    return session.exec(query).first()


def runs(session: Session, incident_id: str) -> list[ActionRun]:
    query = (
        select(ActionRun).where(ActionRun.incident_id == incident_id).order_by(col(ActionRun.id))
    )
    return list(session.exec(query))


CONFIRMED = (ActionStatus.succeeded,)
"""Done for real: an executor acting on a real system succeeded (or a person confirmed it)."""
NOT_DONE_BECAUSE = {
    ActionStatus.not_run: "held back by the drill",
    ActionStatus.simulated: "only simulated",
}


def unconfirmed_containment(session: Session, incident_id: str) -> list[str]:
    """Containment steps nobody really carried out, each with why: what keeps the record
    from saying the incident is contained."""
    return [
        f"{r.title} ({NOT_DONE_BECAUSE.get(r.status, r.status.value)})"
        for r in runs(session, incident_id)
        if r.containment and r.status not in CONFIRMED
    ]


def begin_attempt(session: Session, incident_id: str, spec: ActionSpec, executor: str) -> ActionRun:
    """Count one more attempt; the unique (incident, action) row is created on the first."""
    run = _run_row(session, incident_id, spec, executor)
    run.attempts += 1
    run.status = ActionStatus.running
    session.add(run)
    session.flush()
    return run


def record_not_run(
    session: Session, incident_id: str, spec: ActionSpec, would: str
) -> dict[str, Any]:
    """A drill held the step back: record what it would have done, with no attempt and no
    success, so neither the report nor the metrics count it as done."""
    run = _run_row(session, incident_id, spec, spec.executor)
    run.status = ActionStatus.not_run
    run.result = {"not_run": "drill", "would": would}
    run.finished_at = utcnow()
    session.add(run)
    timeline.record(
        session,
        incident_id,
        Stage.response,
        "action_not_run_drill",
        f"{run.title}: not run (drill): {would}",
        actor=run.group,
        data={"action": run.action, "executor": run.executor},
    )
    return run.result


def _run_row(session: Session, incident_id: str, spec: ActionSpec, executor: str) -> ActionRun:
    """The unique (incident, action) row, created the first time."""
    run = get_run(session, incident_id, spec.key)
    if run is None:
        run = ActionRun(
            incident_id=incident_id,
            action=spec.key,
            title=spec.title,
            stage=Stage.response.value,
            group=spec.group,
            executor=executor,
            containment=spec.containment,
        )
        session.add(run)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            run = get_run(session, incident_id, spec.key)
            assert run is not None
    return run


def record_success(session: Session, run: ActionRun, result: dict[str, Any]) -> None:
    run.result = result
    run.last_error = None
    _finish(
        session,
        run,
        ActionStatus.succeeded,
        "action_succeeded",
        f"{run.title}: done (attempt {run.attempts})",
        {"executor": run.executor},
    )


def record_simulated(session: Session, run: ActionRun, result: dict[str, Any]) -> None:
    """A real incident ran a `simulate` step: nothing touched a real system, so the record says
    simulated, never done, and neither the report nor the metrics count it as done."""
    run.result = result
    run.last_error = None
    _finish(
        session,
        run,
        ActionStatus.simulated,
        "action_simulated",
        f"{run.title}: simulated, not done (attempt {run.attempts}): the plan's executor is "
        "`simulate`, nobody acted on a real system",
        {"executor": run.executor},
    )


def record_failure(session: Session, run: ActionRun, error: str) -> None:
    run.last_error = error
    _finish(
        session,
        run,
        ActionStatus.failed,
        "action_attempt_failed",
        f"{run.title}: attempt {run.attempts} failed: {error}",
        {"error": error},
    )


def _finish(
    session: Session,
    run: ActionRun,
    status: ActionStatus,
    kind: str,
    message: str,
    data: dict[str, Any],
) -> None:
    """End this attempt and put it on the timeline, as done by the action's group."""
    run.status = status
    run.finished_at = utcnow()
    session.add(run)
    timeline.record(
        session,
        run.incident_id,
        Stage.response,
        kind,
        message,
        actor=run.group,
        data={"action": run.action, "attempt": run.attempts, **data},
    )


def record_undo(session: Session, run: ActionRun, status: str, note: str) -> None:
    """Cleanup either undid the containment measure or recorded why it stays."""
    run.undo_status = status
    run.undo_note = note
    if status == "undone":
        run.status = ActionStatus.undone
    elif status == "kept":
        run.status = ActionStatus.kept
    session.add(run)
    timeline.record(
        session,
        run.incident_id,
        Stage.cleanup,
        f"containment_{status}",
        f"{run.title}: {status} - {note}",
        data={"action": run.action},
    )


def record_undo_not_run(session: Session, run: ActionRun, note: str) -> None:
    """A drill held back the undo step (or the measure itself never ran): nothing was undone."""
    run.undo_status = "not_run"
    run.undo_note = note
    session.add(run)
    timeline.record(
        session,
        run.incident_id,
        Stage.cleanup,
        "containment_undo_not_run_drill",
        f"{run.title}: undo not run (drill): {note}",
        data={"action": run.action},
    )
