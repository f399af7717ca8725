"""Work for people in the response stage (issue 11): the stage's manual tasks whose `after`
are satisfied open together (groups work in parallel), their owners are told over their
route, and the flow waits with the gates' wait-then-suspend machinery until each is answered.

Answers arrive on one form naming the task (a choice of the open ones): one pause at a time
serves every open task, so any owner answers whichever task is theirs without the flow
juggling parallel pauses. `irp tasks done|fail|skip` records the answer first and then
resumes the run; the flow finds it answered and reads on.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

from prefect import get_run_logger
from prefect.input import RunInput
from pydantic import Field, create_model
from sqlmodel import col, func, select

from flows import gates
from irp.db import session_scope
from irp.errors import TaskRefused
from irp.gates.machine import GateOutcome
from irp.identity import task_codes
from irp.identity import tasks as proven
from irp.identity.people import deciders
from irp.redact import plan_redactor
from irp.response import custody, manual
from models import ManualTask, TimelineEvent
from models.base import utcnow
from models.enums import Stage
from models.manual_task import TaskStatus
from models.plan import ActionSpec, Plan
from tasks.board import publish_board
from tasks.cleanup import evidence_on_record, evidence_task
from tasks.common import untracked
from tasks.notify import announce_gate
from tasks.response import record_escalation, record_skipped

if TYPE_CHECKING:
    from flows.lifecycle import Run

SATISFIED = (TaskStatus.done, TaskStatus.not_applicable)
QUIET_WAIT_S = 24 * 3600.0
"""How long to wait again once every open task is overdue and reminded."""
TASK_EVENTS = ("task_answered", "task_refused", "task_overdue")


class TaskInput(RunInput):
    """The form the Prefect UI shows while tasks are open; `irp tasks` sends the same fields."""

    task: int = Field(description="The task you answer (its number)")
    outcome: manual.Outcome = Field(default="done", description="done, failed or not_applicable")
    by: str = Field(description="Your role id")
    note: str = Field(
        default="", max_length=4000, description="What was done: goes on the timeline"
    )
    evidence: str = Field(default="", max_length=1000, description="Evidence reference if needed")
    code: str = Field(
        default="",
        max_length=1000,
        description="The one-time code sent to you (never put on the timeline)",
    )


def task_form(
    plan: Plan, open_tasks: list[ManualTask], description: str, *, people: bool = False
) -> type[TaskInput]:
    """The form for the open tasks: `task` and `by` are selects of the open tasks and their
    owners (with codes: the people holding the owner roles), so Prefect's server refuses
    anything else before the run resumes."""
    ids = [t.id for t in open_tasks]
    roles = list(dict.fromkeys(r for t in open_tasks for r in manual.owners(plan, t)))
    if people:
        roles = [d.person for d in deciders(plan, roles)]

    form = create_model(
        TaskInput.__name__,
        __base__=TaskInput,
        task=gates.select_field(ids, "The task you answer"),
        by=gates.select_field(roles, "You (a person id)" if people else "Your role id"),
    )
    return form.with_initial_data(description=description, outcome="done")


def work_for_people(run: Run, specs: list[ActionSpec]) -> list[str]:
    """Open, announce and wait for the stage's manual tasks; return the titles answered failed."""
    passed: set[str] = set()  # a task its gate did not let open counts as settled
    quiet = 0
    while True:
        opened, waiting = _open_ready(run, specs, passed)
        for task in [] if run.drill_policy_answers else opened:  # else nobody acts on a notice
            told = manual.TaskNotice(task, run.plan, [])  # the same facts a reminder gives
            _announce(run, told.extra, "task_open", manual.owners(run.plan, task))
        for task in waiting:  # codes not sent yet: just opened, or a dead process's
            if proven.codes_sent(task):
                task_codes.send_codes(task, run.plan, manual.owners(run.plan, task), run.notify_url)
        with session_scope() as session:
            if waiting and run.drill_policy_answers:
                for task in waiting:
                    fresh = manual.get_task(session, int(task.id or 0))
                    manual.answer_by_drill_policy(session, run.plan, fresh)
                continue
        if not waiting:
            if opened:
                continue
            break
        publish_board(run.plan)  # what it waits for now: these tasks, and whose they are
        quiet += 0 if _wait_for_answer(run, waiting, quiet) else 1
    with session_scope() as session:
        answered = manual.list_tasks(session, run.incident_id)
    return [t.title for t in answered if t.status is TaskStatus.failed]


def evidence_first(run: Run) -> None:
    """PLAN 4.5 for cases that keep evidence: cleanup undoes nothing before evidence is on
    record. When none is (nobody ran `irp evidence add`, the playbook's step was simulated),
    the evidence step's owners get a task and cleanup waits for their answer; an answer other
    than done is escalated to the commander and cleanup goes on, with that on the timeline."""
    if evidence_on_record(run.incident_id):
        return
    spec = evidence_task(run.incident_id, untracked(run.plan))
    work_for_people(run, [spec])
    if not evidence_on_record(run.incident_id):
        record_escalation(
            run.incident_id,
            Stage.cleanup,
            f"Cleanup starts with no evidence on record: task '{spec.title}' was not done",
            run.plan.organisation.commander,
        )


def _open_ready(
    run: Run, specs: list[ActionSpec], passed: set[str]
) -> tuple[list[ManualTask], list[ManualTask]]:
    """Open each task whose `after` are satisfied (automatic steps ran before the tasks) and
    whose gate, if any, lets it open; return those and every task to wait for. Both come from
    one reading: an answer recorded after it is on the form the run waits on (and `irp tasks`
    resumes that form), an answer before it has opened what waited for it."""
    keys = {s.key for s in specs}
    with session_scope() as session:
        known = manual.list_tasks(session, run.incident_id)
        for task in known:
            session.expunge(task)
    status = {t.key: t.status for t in known}
    ready = [
        spec
        for spec in specs
        if spec.key not in status
        and spec.key not in passed
        and all(k in passed or status.get(k) in SATISFIED for k in spec.after if k in keys)
    ]
    opened: list[ManualTask] = []
    for spec in ready:
        if spec.gate is not None and not _gate_lets_open(run, spec):
            passed.add(spec.key)
            continue
        with session_scope() as session:
            codes = proven.required(run.drill_policy_answers)
            task = manual.open_task(session, run.incident_id, spec, run.plan, codes=codes)
            session.expunge(task)
        opened.append(task)
    return opened, [t for t in known if t.status is TaskStatus.open] + opened


def _gate_lets_open(run: Run, spec: ActionSpec) -> bool:
    assert spec.gate is not None
    outcome = gates.decide(
        run.incident_id,
        spec.gate,
        run.plan,
        auto_approve=run.auto_decides(spec.gate),
        context=f"**Task:** {spec.title}",
    )
    if outcome is GateOutcome.proceed:
        return True
    record_skipped(run.incident_id, spec, f"gate {spec.gate}: {outcome}")
    return False


def _wait_for_answer(run: Run, waiting: list[ManualTask], quiet: int) -> bool:
    """One wait for an answer to any open task (True when one came); at the earliest due time,
    remind and escalate."""
    if _answered_meanwhile(run, waiting):
        return True
    first_due = min(t.due_at for t in waiting)
    now = utcnow()
    timeout = (first_due - now).total_seconds()
    timeout = timeout if timeout >= 1 else QUIET_WAIT_S
    suspend = gates.may_suspend(timeout)
    with_codes = _codes_asked(waiting)
    text = _form_text(run, waiting, with_codes)
    form = task_form(run.plan, waiting, text, people=with_codes)
    answer = gates.wait_for(form, _wait_key(run, waiting, quiet), now, timeout, suspend=suspend)
    if answer is None:
        _remind_overdue(run)
        return False
    given = manual.TaskAnswer(
        answer.outcome, answer.by, answer.note, answer.evidence or None, code=answer.code
    )
    with session_scope() as session:
        try:
            manual.answer_task(session, run.plan, answer.task, given)
        except TaskRefused as refused:  # answered from the CLI already, or refused and recorded
            get_run_logger().warning(str(refused))
    return True


def _codes_asked(waiting: list[ManualTask]) -> bool:
    """Whether the open tasks ask for codes (then people, not roles, answer them)."""
    return any(proven.codes_sent(t) for t in waiting)


def _answered_meanwhile(run: Run, waiting: list[ManualTask]) -> bool:
    """Whether a task read open was answered since (while new ones were announced, say): read
    again rather than pause on a form offering it, since `irp tasks` waits only so long
    (deployments/task_answers.py RUN_BUSY_S) for the run to pause before it leaves the answer
    to be read when the run next looks."""
    with session_scope() as session:
        still_open = {t.id for t in manual.list_tasks(session, run.incident_id, open_only=True)}
    return any(t.id not in still_open for t in waiting)


def _wait_key(run: Run, waiting: list[ManualTask], quiet: int) -> str:
    """A key of this wait's own: Prefect answers a pause whose key fired before with that
    pause's answer. The same open tasks after the same answers are the same wait (a resumed
    suspended run finds its answer); `quiet` counts waits that ran out in this process."""
    ids = hashlib.sha256(",".join(str(t.id) for t in waiting).encode()).hexdigest()[:10]
    return f"tasks-{_answers_so_far(run)}-{ids}-{quiet}"


def _answers_so_far(run: Run) -> int:
    """Events that changed what the tasks wait for."""
    with session_scope() as session:
        query = select(func.count()).where(
            TimelineEvent.incident_id == run.incident_id,
            TimelineEvent.kind.in_(TASK_EVENTS),  # type: ignore[attr-defined]
        )
        return int(session.exec(query).one())


def _remind_overdue(run: Run) -> None:
    due = utcnow() + timedelta(seconds=1)  # the pause ends on a whole second
    for overdue in manual.take_overdue(due, lambda _: run.plan, run.incident_id):
        _announce(run, overdue.extra, "task_overdue", overdue.audience)


def _announce(run: Run, extra: dict[str, object], event: str, audience: list[str]) -> None:
    try:
        announce_gate(run.incident_id, event, run.plan, extra=extra, audiences=audience)
    except Exception as exc:  # noqa: BLE001  (a failed delivery never fails the incident)
        get_run_logger().warning("notifying task %s failed: %s", extra.get("task"), exc)


def _form_text(run: Run, waiting: list[ManualTask], with_codes: bool) -> str:
    """The form's Markdown, led by why the last answer was refused if it was: every open
    task, who owns it, what done needs, how to prove the answer; masked."""
    lines = [f"### Open tasks - {run.incident_id}", ""]
    for task in waiting:
        who = ", ".join(manual.owners(run.plan, task))
        needs = ", ".join(task.needs)
        if task.data.get(custody.CUSTODY):
            needs += f" ({custody.REFERENCE_HOW})"
        lines.append(
            f"- **{task.id}** {task.title} (owners: {who}; due {task.due_at:%H:%M:%S} UTC; "
            f"done needs: {needs}): {task.instructions}"
        )
    by = "<person> --code <the code sent to you>" if with_codes else "<role>"
    lines += ["", f'From a shell: `irp tasks done TASK --by {by} --note "..."` (or fail, skip)']
    if with_codes:
        lines.insert(0, "Answer with the one-time code (or open the link) sent to you.\n")
    refusal = _last_refusal(run)
    if refusal is not None:
        lines.insert(0, refusal + "\n")
    return plan_redactor(run.plan).redact("\n".join(lines))


def _last_refusal(run: Run) -> str | None:
    """Why the last answer was refused, if the last task event is a refusal (no code in it)."""
    with session_scope() as session:
        query = (
            select(TimelineEvent)
            .where(
                TimelineEvent.incident_id == run.incident_id,
                TimelineEvent.kind.in_(TASK_EVENTS),  # type: ignore[attr-defined]
            )
            .order_by(col(TimelineEvent.id).desc())
        )
        last = session.exec(query).first()
    if last is None or last.kind != "task_refused":
        return None
    return (
        f"{gates.REFUSAL_NOTE}{last.actor} at {last.at:%Y-%m-%d %H:%M:%S} UTC "
        f"was refused:** {last.data.get('reason', '')}"
    )
