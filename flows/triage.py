"""Triage (PLAN 4.1-4.2): an incident reported without a type waits at the `triage` gate, where
the commander chooses its type; the type's stages then continue in the same flow run, on the
same incident (recovery restarts that run's deployment with the incident id, which finds the
type chosen)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, create_model

from flows import gates
from irp.gates.machine import GateOutcome
from irp.incidents import stages
from models.enums import IncidentType
from models.intake import INTAKE_MODELS
from models.plan import Plan
from tasks.intake import choose_type

GATE = "triage"
TYPES: Any = Literal[tuple(t.value for t in INTAKE_MODELS)]

TriageInput: type[gates.GateInput] = create_model(
    "TriageInput",
    __base__=gates.GateInput,
    incident_type=(TYPES, Field(description="What it is (PLAN 2): its playbook runs next")),
)
"""The triage gate's form: the decision, who decides, and the type chosen."""


def triage(incident_id: str, plan: Plan) -> GateOutcome | None:
    """Ask the commander for the type of an incident reported without one (None: it has one)."""
    incident = stages.read_incident(incident_id)
    if incident.type is not IncidentType.unknown:
        return None

    def keep_type(answer: gates.GateInput) -> None:
        if answer.decision == "approve":
            choose_type(incident_id, IncidentType(answer.incident_type), answer.approver)  # type: ignore[attr-defined]

    details = f"**Reported:** {incident.summary}\n\n{incident.description}".strip()
    outcome = gates.decide(
        incident_id,
        GATE,
        plan,
        auto_approve=False,
        context=details[:2000],
        form=TriageInput,
        on_answer=keep_type,
    )
    if (
        outcome is GateOutcome.proceed
        and stages.read_incident(incident_id).type is IncidentType.unknown
    ):
        return GateOutcome.stop  # nobody chose a type: the response cannot start
    return outcome
