"""Work for people (issue 11): manual tasks are opened for their owner group, answered by one
of its roles (done, failed or not applicable, with a note), reminded and escalated when
overdue. Every step goes on the timeline; `admit` is the one place an answer is let in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, NoReturn

from sqlalchemy import update
from sqlmodel import Session, col, select

from irp.db import session_scope
from irp.errors import NotFound, TaskRefused
from irp.identity import tasks as proven
from irp.identity.people import Decider, task_owners
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.response import actions, custody
from irp.settings import get_settings
from models import ActionRun, Incident, ManualTask
from models.base import utcnow
from models.enums import ActionStatus, Stage
from models.manual_task import TaskStatus
from models.plan import ActionSpec, Plan

Outcome = Literal["done", "failed", "not_applicable"]
OUTCOMES: tuple[Outcome, ...] = ("done", "failed", "not_applicable")
ACTION_STATUS = {
    TaskStatus.done: ActionStatus.succeeded,
    TaskStatus.failed: ActionStatus.failed,
    TaskStatus.not_applicable: ActionStatus.not_run,
}


@dataclass(frozen=True)
class TaskAnswer:
    """What a person says about a task, from the CLI, the Prefect UI form or the link page;
    `code` (a one-time code or link token) is checked and never stored."""

    outcome: Outcome
    by: str
    note: str
    evidence: str | None = None
    code: str = field(default="", repr=False)


@dataclass(frozen=True)
class Admitted:
    """Who answers: the role, and the person proven by a code (when codes were sent)."""

    role: str
    person: Decider | None = None


def owners(plan: Plan, task: ManualTask | ActionSpec) -> list[str]:
    """The role ids that may answer: the task's owner, else every role of its group."""
    return task_owners(plan, task.owner, task.group)


def open_task(
    session: Session, incident_id: str, spec: ActionSpec, plan: Plan, *, codes: bool = False
) -> ManualTask:
    """Open the playbook's task for this incident once (a re-run finds it open or answered);
    `codes`: its answers must carry the one-time code its owners' people are sent."""
    existing = get_by_key(session, incident_id, spec.key)
    if existing is not None:
        return existing
    now = utcnow()
    task = ManualTask(
        incident_id=incident_id,
        key=spec.key,
        title=spec.title,
        group=spec.group,
        owner=spec.owner,
        instructions=spec.instructions or "",
        needs=list(spec.needs),
        opened_at=now,
        due_at=now + timedelta(seconds=spec.due_s),
        data={"containment": spec.containment, proven.CODES_FLAG: codes}
        | ({custody.CUSTODY: spec.evidence} if spec.evidence else {}),
    )
    session.add(task)
    session.flush()
    who = owners(plan, spec)
    timeline.record(
        session,
        incident_id,
        Stage.response,
        "task_opened",
        f"Task {task.id} {spec.title}: open for {', '.join(who)} (due {task.due_at:%H:%M:%S} UTC)",
        actor=spec.group,
        data={"task": task.id, "action": spec.key, "owners": who, "due_s": spec.due_s},
    )
    return task


def get_by_key(session: Session, incident_id: str, key: str) -> ManualTask | None:
    query = select(ManualTask).where(ManualTask.incident_id == incident_id, ManualTask.key == key)
    return session.exec(query).first()


def get_task(session: Session, task_id: int) -> ManualTask:
    task = session.get(ManualTask, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


def list_tasks(
    session: Session, incident_id: str | None = None, *, open_only: bool = False
) -> list[ManualTask]:
    query = select(ManualTask).order_by(col(ManualTask.id))
    if incident_id is not None:
        query = query.where(ManualTask.incident_id == incident_id)
    if open_only:
        query = query.where(ManualTask.status == TaskStatus.open)
    return list(session.exec(query))


def admit(session: Session, plan: Plan, task: ManualTask, answer: TaskAnswer) -> Admitted:
    """Who answers, when the plan lets them answer this task now; TaskRefused naming the field
    otherwise. A refusal of who answers (a wrong role, a missing, wrong, expired or spent code)
    is recorded and committed. The code is checked last, so it is spent only with an answer
    that is recorded."""
    if answer.outcome not in OUTCOMES:
        raise TaskRefused(f"outcome: {answer.outcome!r} is not one of {', '.join(OUTCOMES)}")
    if task.status is not TaskStatus.open:
        raise TaskRefused(
            f"task {task.id}: answered already ({task.status.value} by {task.answered_by} "
            f"at {task.answered_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
    allowed = owners(plan, task)
    with_code = proven.codes_sent(task)
    if not with_code and answer.by not in allowed:
        _refuse(
            session,
            task,
            answer.by,
            f"--by: {answer.by!r} may not answer task {task.id} (owners: {', '.join(allowed)})",
        )
    if not answer.note.strip():
        raise TaskRefused("--note: say what was done (it goes on the timeline)")
    if answer.outcome == "done" and "evidence" in task.needs and not answer.evidence:
        raise TaskRefused(f"--evidence: task {task.id} needs an evidence reference to be done")
    if answer.outcome == "done" and not _custody_given(session, task, answer.evidence):
        _refuse(  # recorded: the next form tells whoever answered from the UI
            session,
            task,
            answer.by,
            f"--evidence: task {task.id} puts evidence in the chain of custody: give "
            f"{custody.REFERENCE_HOW}, or record it first with "
            f"`irp evidence add {task.incident_id}`",
        )
    if not with_code:
        return Admitted(answer.by)
    proof = proven.prove_answer(session, plan, task, allowed, answer.by, answer.code)
    if proof.person is None:
        _refuse(session, task, answer.by, proof.reason)
    return Admitted(proof.person.role, proof.person)


def _custody_given(session: Session, task: ManualTask, reference: str | None) -> bool:
    """A task that preserves evidence is done once the evidence is in the chain of custody:
    the answer gives its location and hash, or someone recorded it with `irp evidence add`."""
    if not task.data.get(custody.CUSTODY):
        return True
    return custody.parse_reference(reference or "") is not None or bool(
        custody.items(session, task.incident_id)
    )


def _refuse(session: Session, task: ManualTask, by: str, reason: str) -> NoReturn:
    """Record and commit why an answer was refused (the next form says so), then refuse it."""
    timeline.record(
        session,
        task.incident_id,
        Stage.response,
        "task_refused",
        f"Task {task.id} {task.title}: answer refused - {reason}",
        actor=by,
        data={"task": task.id, "action": task.key, "reason": reason},
    )
    session.commit()
    raise TaskRefused(reason)


def answer_task(session: Session, plan: Plan, task_id: int, answer: TaskAnswer) -> ManualTask:
    """Admit and record a person's answer."""
    task = get_task(session, task_id)
    admitted = admit(session, plan, task, answer)
    person = admitted.person.name if admitted.person else plan.role_person(admitted.role)
    if admitted.person is not None:
        task.data = {**task.data, "person": admitted.person.person}
    answered = _record_answer(session, task, answer, by=admitted.role, person=person)
    reference = custody.parse_reference(answer.evidence or "")
    if answer.outcome == "done" and task.data.get(custody.CUSTODY) and reference:
        custody.add_evidence(
            session,
            incidents.get_incident(session, task.incident_id),
            what=str(task.data[custody.CUSTODY]),
            location=reference[0],
            sha256=reference[1],
            collected_by=f"{admitted.role} ({person})" if person else admitted.role,
        )
    return answered


def answer_by_drill_policy(session: Session, plan: Plan, task: ManualTask) -> ManualTask:
    """A drill without people: the drill policy answers done, and the record says so."""
    if task.status is not TaskStatus.open:
        return task
    answer = TaskAnswer("done", plan.drill.decider, "answered by the drill policy (no people)")
    answered = _record_answer(session, task, answer, by=plan.drill.decider, person=None)
    if task.data.get(custody.CUSTODY) and _is_drill(session, task.incident_id):
        # what the drill would collect: a manifest marked as a drill's; a real incident's
        # evidence comes only from a person
        custody.preserve_manifest(
            session,
            incidents.get_incident(session, task.incident_id),
            get_settings().evidence_dir,
            what=str(task.data[custody.CUSTODY]),
            collected_by=plan.drill.decider,
        )
    return answered


def _record_answer(
    session: Session, task: ManualTask, answer: TaskAnswer, *, by: str, person: str | None
) -> ManualTask:
    status = TaskStatus(answer.outcome)
    task.status = status
    task.answered_at = utcnow()
    task.answered_by = by
    task.answered_role = by if person else None
    task.note = answer.note
    task.evidence = answer.evidence
    session.add(task)
    _mirror_action(session, task)
    who = f"{by} ({person})" if person else by
    timeline.record(
        session,
        task.incident_id,
        Stage.response,
        "task_answered",
        f"Task {task.id} {task.title}: {status.value} by {who}: {answer.note}"
        + (f" [evidence: {answer.evidence}]" if answer.evidence else ""),
        actor=by,
        data={"task": task.id, "action": task.key, "outcome": status.value, "by": by}
        | ({"evidence": answer.evidence} if answer.evidence else {})
        | {"answer_s": (task.answered_at - task.opened_at).total_seconds()},
    )
    return task


def _mirror_action(session: Session, task: ManualTask) -> None:
    """The action's record (report, metrics, cleanup) says what the person answered."""
    run = actions.get_run(session, task.incident_id, task.key) or ActionRun(
        incident_id=task.incident_id,
        action=task.key,
        title=task.title,
        stage=Stage.response.value,
        group=task.group,
        executor="manual",
        containment=bool(task.data.get("containment")),
    )
    run.status = ACTION_STATUS[task.status]
    run.started_at = task.opened_at  # the work took from the task's opening to its answer
    if task.answered_role is None and not _is_drill(session, task.incident_id):
        run.status = ActionStatus.simulated  # a policy, not a person: never done in a real incident
    run.attempts = 1
    run.finished_at = task.answered_at
    run.result = {"answered_by": task.answered_by, "note": task.note, "evidence": task.evidence}
    session.add(run)
    session.flush()


def _is_drill(session: Session, incident_id: str) -> bool:
    incident = session.get(Incident, incident_id)
    return bool(incident and incident.drill)


def claim_overdue(
    session: Session, now: datetime, incident_id: str | None = None
) -> list[ManualTask]:
    """Open tasks past their due time, each claimed once across processes for its reminder."""
    query = select(ManualTask).where(
        ManualTask.status == TaskStatus.open,
        col(ManualTask.reminded_at).is_(None),
        col(ManualTask.due_at) <= now,
    )
    if incident_id is not None:
        query = query.where(ManualTask.incident_id == incident_id)
    claimed: list[ManualTask] = []
    for task in session.exec(query).all():
        won = session.execute(
            update(ManualTask)
            .where(col(ManualTask.id) == task.id, col(ManualTask.reminded_at).is_(None))
            .values(reminded_at=now)
            .returning(col(ManualTask.id))
        ).first()
        if won is not None:
            session.refresh(task)
            claimed.append(task)
    return claimed


@dataclass(frozen=True)
class TaskNotice:
    """What a task notice says and to whom (an opened task, or a claimed reminder)."""

    task: ManualTask
    plan: Plan
    audience: list[str]

    @property
    def extra(self) -> dict[str, object]:
        """What the reminder says: the task, its owners, what to do, when it was due."""
        task = self.task
        return {
            "task": task.id,
            "task_title": task.title,
            "owners": owners(self.plan, task),
            "instructions": task.instructions,
            "due_at": task.due_at.isoformat(),
        }


def take_overdue(
    now: datetime, plan_of: Callable[[Incident], Plan], incident_id: str | None = None
) -> list[TaskNotice]:
    """Claim the overdue tasks (of one incident, or all) and record their reminders; one
    transaction, so a reminder is on record exactly when it was claimed. The flow waiting
    in-process and the deadline watch (for suspended runs) both call this: each sends once."""
    with session_scope() as session:
        claimed = claim_overdue(session, now, incident_id)
        found: list[TaskNotice] = []
        for task in claimed:
            plan = plan_of(session.get_one(Incident, task.incident_id))
            found.append(TaskNotice(task, plan, record_overdue(session, plan, task)))
            session.expunge(task)
    return found


def record_overdue(session: Session, plan: Plan, task: ManualTask) -> list[str]:
    """Put the reminder and the escalation to the group's leader on the timeline; return who
    hears it (the owners and the leader)."""
    leader = plan.organisation.groups[task.group].leader
    audience = list(dict.fromkeys([*owners(plan, task), leader]))
    timeline.record(
        session,
        task.incident_id,
        Stage.response,
        "task_overdue",
        f"Task {task.id} {task.title}: overdue since {task.due_at:%H:%M:%S} UTC; owners "
        f"reminded, escalated to {leader}",
        data={"task": task.id, "action": task.key, "escalated_to": leader, "owners": audience},
    )
    return audience
