"""The gate state machine: what one round's answer, or its silence, means.

A pure function of what is known about the round (the plan's policy, the round, earlier
escalations, whether the drill policy answers, the answer): no database, no Prefect, no clock.
When the silence began is the wait's business (Prefect's pause timeout, irp's deadline watch),
so "no answer" reaches the machine as `None`. The flow (flows/gates.py) and `irp approve`
(deployments/runs.py) ask the same function and act on the `Verdict` it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from irp.redact import default_redactor
from models.enums import Priority
from models.plan import DrillPolicy, GatePolicy, Plan


class Decision(StrEnum):
    """What came back for a round: a person's answer, or nothing before the deadline."""

    approve = "approve"
    reject = "reject"
    escalate = "escalate"
    timeout = "timeout"


ANSWERS = (Decision.approve, Decision.reject, Decision.escalate)
"""The decisions a person may give (a timeout is nobody's)."""


class GateOutcome(StrEnum):
    """What the flow does after a round (kept as `GateDecision.outcome`)."""

    proceed = "proceed"
    reject = "reject"
    """The incident ends, rejected."""
    stop = "stop"
    """The incident ends, stopped safely."""
    escalate = "escalate"
    """The next round asks the escalation roles."""
    refused = "refused"
    """The answerer may not decide this round: the next round asks the same roles again."""

    @property
    def settles(self) -> bool:
        """The gate is decided: no round follows."""
        return self in FINAL_OUTCOMES


FINAL_OUTCOMES = frozenset({GateOutcome.proceed, GateOutcome.reject, GateOutcome.stop})

TIMEOUT_APPROVER = "timeout"
"""Who a timeout's decision is recorded as."""


@dataclass(frozen=True)
class Answer:
    """A person's answer to a gate, from the UI form or `irp approve`."""

    decision: Decision
    approver: str
    comment: str = ""
    priority_override: Priority | None = None


@dataclass(frozen=True)
class GateRound:
    """One round of a gate: the plan's policy, which round, how many escalations came before,
    and the drill policy when it answers for the run (`auto`)."""

    gate: str
    policy: GatePolicy
    number: int
    escalations: int = 0
    auto: DrillPolicy | None = None

    @property
    def deciders(self) -> list[str]:
        """Who may decide this round: the escalation roles once the gate has escalated."""
        if self.escalations > 0 and self.policy.escalate_to:
            return self.policy.escalate_to
        return self.policy.deciders

    @property
    def wait_s(self) -> float:
        """How long the round waits for an answer."""
        return self.auto.auto_decide_after_s if self.auto is not None else self.policy.timeout_s

    def after(self, verdict: Verdict) -> GateRound:
        """The round asked next after an unsettled verdict (escalated or refused)."""
        escalated = verdict.outcome is GateOutcome.escalate
        return replace(self, number=self.number + 1, escalations=self.escalations + escalated)


@dataclass(frozen=True)
class Verdict:
    """The machine's answer for a round: the outcome and what is recorded with it."""

    outcome: GateOutcome
    decision: Decision
    approver: str
    role: str | None = None
    comment: str = ""
    priority_override: Priority | None = None
    reason: str = ""
    """Why an answer was refused (names who may decide)."""

    @property
    def accepted(self) -> bool:
        return self.outcome is not GateOutcome.refused

    @property
    def timed_out_to_escalation(self) -> bool:
        """Nobody answered and the gate goes to the escalation roles, who must be told."""
        return self.outcome is GateOutcome.escalate and self.decision is Decision.timeout


def before_asking(round_: GateRound) -> Verdict | None:
    """A drill policy that answers at once decides without asking anyone; else None (ask)."""
    if round_.auto is not None and round_.auto.auto_decide_after_s == 0:
        return _drill_approves(round_.auto)
    return None


def judge(round_: GateRound, answer: Answer | None, plan: Plan) -> Verdict:
    """The verdict on a round's answer, or on its silence (`answer` None: the wait ran out)."""
    if answer is None:
        return _silence(round_)
    role = resolve_role(plan, answer.approver)
    if role is None or role not in round_.deciders:
        return Verdict(
            GateOutcome.refused,
            answer.decision,
            answer.approver,
            role,
            comment=answer.comment,
            reason=_refusal_reason(plan, round_, answer.approver),
        )
    if answer.decision is Decision.escalate:
        return Verdict(
            GateOutcome.escalate, Decision.escalate, answer.approver, role, answer.comment
        )
    outcome = GateOutcome.proceed if answer.decision is Decision.approve else GateOutcome.reject
    return Verdict(
        outcome, answer.decision, answer.approver, role, answer.comment, answer.priority_override
    )


def _silence(round_: GateRound) -> Verdict:
    """Nobody answered in time: the drill policy approves, or the plan's timeout rule applies."""
    if round_.auto is not None:
        return _drill_approves(round_.auto)
    policy = round_.policy
    if policy.on_timeout == "escalate":
        if round_.escalations < policy.max_escalations:
            return Verdict(GateOutcome.escalate, Decision.timeout, TIMEOUT_APPROVER)
        return Verdict(GateOutcome(policy.on_final_timeout), Decision.timeout, TIMEOUT_APPROVER)
    return Verdict(GateOutcome(policy.on_timeout), Decision.timeout, TIMEOUT_APPROVER)


def _drill_approves(drill: DrillPolicy) -> Verdict:
    return Verdict(GateOutcome.proceed, Decision.approve, drill.decider)


def resolve_role(plan: Plan, approver: str) -> str | None:
    """An approver may give a role id (`cio`) or the person's name as the plan has it."""
    roles = plan.organisation.roles
    wanted = approver.strip().lower()
    if wanted in roles:
        return wanted
    for role_id, role in roles.items():
        if role.person.lower() == wanted:
            return role_id
    return None


def _refusal_reason(plan: Plan, round_: GateRound, approver: str) -> str:
    """Who may decide instead (the approver masked: the reason reaches terminals, logs and the
    gate's form)."""
    names = ", ".join(f"{r} ({plan.organisation.roles[r].person})" for r in round_.deciders)
    who = default_redactor().redact(approver)
    return f"{who!r} may not decide gate {round_.gate!r}; allowed: {names}"
