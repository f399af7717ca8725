"""Who signs off an incident's cleanup (PLAN 4.5): every group that acted in its playbook run,
each at its own gate and by its own people, then the leadership group last."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from irp.db import session_scope
from irp.response import actions
from models.plan import Plan
from models.plan_duties import GROUP_SIGNOFF_PREFIX

LEADERSHIP_SIGNOFF = "signoff"
"""The plan's gate the leadership group signs at, after every acting group."""


@dataclass(frozen=True)
class Signoff:
    """One sign-off gate to ask, and what the signers are shown about their group's work."""

    gate: str
    group: str
    context: str


def acting_groups(session: Session, incident_id: str, plan: Plan) -> list[str]:
    """Groups with an action run for this incident, in the plan's group order; leadership
    signs last at its own gate, so it is not among them. A group whose only action a gate
    skipped did nothing to clean up."""
    acted = {run.group for run in actions.runs(session, incident_id)}
    leadership = plan.leadership_group
    return [g for g in plan.organisation.groups if g in acted and g != leadership]


def signoffs(incident_id: str, plan: Plan) -> list[Signoff]:
    """The sign-off gates in the order they are asked: each acting group, leadership last."""
    with session_scope() as session:
        runs = actions.runs(session, incident_id)
        groups = acting_groups(session, incident_id, plan)
    asked: list[Signoff] = []
    for group in groups:
        done = [
            f"- {r.title}: {r.status}" + (f", undo {r.undo_status}" if r.undo_status else "")
            for r in runs
            if r.group == group
        ]
        title = plan.organisation.groups[group].title
        asked.append(Signoff(group_gate(group), group, f"**{title}:**\n" + "\n".join(done)))
    signed = ", ".join(plan.organisation.groups[g].title for g in groups) or "no other group"
    asked.append(
        Signoff(LEADERSHIP_SIGNOFF, plan.leadership_group, f"**Signed off before you:** {signed}")
    )
    return asked


def group_gate(group: str) -> str:
    return f"{GROUP_SIGNOFF_PREFIX}{group}"
