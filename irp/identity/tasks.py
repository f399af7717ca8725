"""Proven task answers: the codes a manual task sends its owners' people when it opens, and the
proof an answer must then carry (subject `task:<id>`, one round).

The flow (flows/manual_tasks.py) calls `task_codes.send_codes` when a task opens for people;
`irp/response/manual.admit`, the one place an answer is let in, calls `prove_answer` whenever
`codes_sent`, so the CLI, the Prefect UI form and the link page are all checked there, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from irp.identity.people import Decider, deciders, named
from irp.identity.proof import Asked, prove
from irp.settings import get_settings
from models import ManualTask
from models.enums import Stage
from models.plan import Plan

ROUND = 1
"""A task asks once: its codes are good until answered or expired, not renewed by rounds."""
GRACE = timedelta(hours=24)
"""How long past its due time a task's code still works: overdue work is still done and
answered (the reminder and escalation say so), and its owner must still be able to prove it."""
SUBJECT_PREFIX = "task:"
CODES_FLAG = "codes"
"""The key in a task's `data` that says it asks for codes."""


def required(answered_by_policy: bool) -> bool:
    """A person's answer needs a code unless the drill policy answers the task."""
    return get_settings().gate_codes and not answered_by_policy


def subject(task_id: int | None) -> str:
    return f"{SUBJECT_PREFIX}{task_id}"


def asked(task: ManualTask) -> Asked:
    return Asked(
        incident_id=task.incident_id,
        subject=subject(task.id),
        round=ROUND,
        title=f"task {task.id} {task.title}",
        question=f"is task {task.id} ({task.title}) done? {task.instructions}".strip(),
        stage=Stage.response.value,
        expires_at=task.due_at + GRACE,
        rounds=False,
    )


def codes_sent(task: ManualTask) -> bool:
    """Whether this task asks for codes (then every answer must carry one). Decided and
    committed when the task opened, before any code went out: no answer by role alone slips
    in while they are being sent."""
    return bool(task.data.get(CODES_FLAG))


@dataclass(frozen=True)
class TaskProof:
    """A proven person (their role answers), or the refusal's reason (no secret in it)."""

    person: Decider | None
    reason: str = ""


def prove_answer(
    session: Session, plan: Plan, task: ManualTask, owners: list[str], who: str, proof: str
) -> TaskProof:
    """Check and spend the answer's code or link token (in the caller's transaction: spent
    exactly when the answer is recorded); the proven person goes on the timeline."""
    person = named(plan, owners, who)
    if person is None:
        allowed = ", ".join(f"{d.person} ({d.name})" for d in deciders(plan, owners))
        return TaskProof(None, f"--by: {who!r} may not answer task {task.id}; allowed: {allowed}")
    if not proof.strip():
        return TaskProof(None, f"--code: task {task.id} needs the one-time code sent to you")
    checked = prove(session, asked(task), person, proof)
    if checked.ok:
        return TaskProof(checked.person)
    return TaskProof(None, f"--code: {checked.check.reason} for {person.name}")
