"""`simulate` is for drills and tests: a plan whose real incidents would only simulate a step
says so explicitly, or `irp plan validate` refuses it (issue 11). A step that runs anyway is
recorded as simulated, never done (irp/response/actions.py)."""

from __future__ import annotations

from models.plan import Plan

Loc = tuple[str | int, ...]
HOW = (
    "a real incident would only simulate this step: give it a real executor, or mark the "
    "action `simulate_in_real_incidents: true` if the plan is for drills and tests"
)


def simulated_in_real_incidents(plan: Plan) -> list[tuple[Loc, str]]:
    """Each `simulate` step (an action or its undo) a real incident would run unmarked."""
    if plan.simulate_in_real_incidents:
        return []
    problems: list[tuple[Loc, str]] = []
    for itype, spec in plan.incident_types.items():
        for i, action in enumerate(spec.playbook):
            if action.simulate_in_real_incidents:
                continue
            loc: Loc = ("incident_types", itype.value, "playbook", i)
            if action.executor == "simulate":
                problems.append(((*loc, "executor"), HOW))
            if action.undo is not None and action.undo.executor == "simulate":
                problems.append(((*loc, "undo", "executor"), HOW))
    return problems
