"""A drill scenario applied to a plan: the gates nobody answers, with their short timeout.
Kept apart from the scorecard (irp.drills.scoring) so a flow run starts without pandas."""

from __future__ import annotations

from irp.errors import InvalidInput
from models.plan import Plan


def drill_setup(plan: Plan, scenario: str | None) -> tuple[Plan, frozenset[str]]:
    """The plan as this run sees it and the gates nobody answers: an unanswered gate times out
    after the scenario's short timeout (each round), then the plan's escalation applies."""
    if scenario is None:
        return plan, frozenset()
    spec = plan.drills.scenarios.get(scenario)
    if spec is None:
        known = ", ".join(sorted(plan.drills.scenarios)) or "none"
        raise InvalidInput(f"scenario: {scenario!r} is not in the plan's drills (known: {known})")
    if not spec.unanswered_gates:
        return plan, frozenset()
    short = {
        gate: plan.gates[gate].model_copy(update={"timeout_s": spec.gate_timeout_s})
        for gate in spec.unanswered_gates
    }
    return plan.model_copy(update={"gates": {**plan.gates, **short}}), frozenset(short)
