"""A drill scenario applied to a plan: the report a scheduled drill files, the gates nobody
answers. Kept apart from the scorecard (irp.drills) so a flow run starts without pandas."""

from __future__ import annotations

from irp.errors import InvalidInput
from models.plan import Plan
from models.plan_drills import DrillScenario
from models.report import REPORT_MODELS, IncidentReport


def drill_report(name: str, scenario: DrillScenario) -> IncidentReport:
    """The report a scheduled drill files: the scenario's facts, marked as a drill."""
    fields = {
        "summary": f"Drill {name}: {scenario.title}",
        "reporter": "drill scheduler",
        "description": f"Scheduled drill '{name}' from the plan.",
        **scenario.report,
    }
    if scenario.subtype is not None:
        fields.setdefault("subtype", scenario.subtype)
    return REPORT_MODELS[scenario.incident_type].model_validate(fields)


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
