"""Cross-references in the plan's drills section: scenarios name real actions, gates, resources."""

from __future__ import annotations

from pydantic import ValidationError

from models.enums import IncidentType
from models.plan import Plan

Loc = tuple[str | int, ...]


def drill_reference_errors(plan: Plan) -> list[tuple[Loc, str]]:
    """A fault, unanswered gate, shortfall or target that names nothing would silently test
    nothing: refuse it when the plan loads."""
    problems: list[tuple[Loc, str]] = []
    gates = set(plan.gates)
    for gate in plan.drills.targets.gates:
        if gate not in gates:
            problems.append((("drills", "targets", "gates", gate), f"unknown gate {gate!r}"))
    for name, spec in plan.drills.scenarios.items():
        base: Loc = ("drills", "scenarios", name)
        kind = plan.incident_types.get(spec.incident_type)
        if spec.incident_type is IncidentType.unknown:
            problems.append(((*base, "incident_type"), "a drill responds to a known type"))
        if kind is None:
            continue
        if spec.subtype is not None and spec.subtype not in kind.subtypes:
            problems.append(((*base, "subtype"), f"unknown subtype {spec.subtype!r}"))
        actions = {a.key for a in kind.actions_for(spec.subtype)}
        for action in spec.faults:
            if action not in actions:
                problems.append(
                    ((*base, "faults", action), f"no action {action!r} in this scenario's playbook")
                )
        for i, gate in enumerate(spec.unanswered_gates):
            if gate not in gates:
                problems.append(((*base, "unanswered_gates", i), f"unknown gate {gate!r}"))
        needed = {r.resource for r in kind.resources}
        for resource in spec.shortfall:
            if resource not in needed:
                problems.append(
                    (
                        (*base, "shortfall", resource),
                        f"{resource!r} is not a resource this type needs",
                    )
                )
        if spec.targets is not None:
            for gate in spec.targets.gates:
                if gate not in gates:
                    problems.append(((*base, "targets", "gates", gate), f"unknown gate {gate!r}"))
        try:
            spec.filed_intake(name)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"])
                problems.append(((*base, "report", *error["loc"]), f"{field}: {error['msg']}"))
    return problems
