"""The plan's vocabulary: incident types, stages, grades, statuses."""

from __future__ import annotations

from enum import StrEnum


class IncidentType(StrEnum):
    data_breach = "data_breach"
    network_attack = "network_attack"
    system_failure = "system_failure"
    insider_threat = "insider_threat"
    unknown = "unknown"
    """Reported without a type (PLAN 4.1 lets whoever discovers it report it): the commander
    chooses the type at the triage gate. It has no intake model, playbook or flow of its own:
    the types to respond to are `models.intake.INTAKE_MODELS`."""

    @property
    def cli_name(self) -> str:
        return self.value.replace("_", "-")


class Stage(StrEnum):
    """PLAN.md section 4, in order."""

    report = "report"
    command = "command"
    response = "response"
    logistics = "logistics"
    cleanup = "cleanup"
    post_incident_report = "post_incident_report"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class NationalGrade(StrEnum):
    """GB/T 20986-2023: I is the most severe."""

    I = "I"  # noqa: E741
    II = "II"
    III = "III"
    IV = "IV"

    @property
    def rank(self) -> int:
        """4 for I (most severe) down to 1 for IV, so `rank >= 2` means III or higher."""
        return {"I": 4, "II": 3, "III": 2, "IV": 1}[self.value]


class IncidentStatus(StrEnum):
    pending_dispatch = "pending_dispatch"
    open = "open"
    active = "active"
    closed = "closed"
    rejected = "rejected"
    stopped = "stopped"
    blocked = "blocked"


class GateDecisionKind(StrEnum):
    approve = "approve"
    reject = "reject"
    escalate = "escalate"


class ActionStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    undone = "undone"
    kept = "kept"
    not_run = "not_run"  # a drill recorded what an http or command action would have done
    simulated = "simulated"  # a real incident ran a `simulate` step: nothing real was done
