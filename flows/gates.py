"""Gates are Prefect pauses with a typed form (DESIGN.md principle 4), decided by plan roles."""

from __future__ import annotations

import math
from typing import Literal

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from prefect.states import Running
from pydantic import Field

from irp import gates, incidents, timeline
from irp.db import session_scope
from irp.errors import GateRefused
from irp.settings import get_settings
from models.base import utcnow
from models.enums import Priority
from models.plan import Plan


class GateInput(RunInput):
    """The form the Prefect UI shows at a gate; `irp approve` sends the same fields."""

    decision: Literal["approve", "reject", "escalate"] = Field(
        default="approve",
        description="approve: go on; reject: end the incident; escalate: ask the deputy",
    )
    approver: str = Field(description="Your role id (e.g. cio, ciso) or your name as in the plan")
    priority_override: Priority | None = Field(
        default=None, description="Change the priority (P1-P4) if the grading is wrong"
    )
    comment: str = Field(default="", max_length=4000, description="Why: goes on the timeline")


def decide(
    incident_id: str, gate: str, plan: Plan, *, auto_approve: bool, context: str = ""
) -> str:
    """Wait for an allowed decider and return the outcome: proceed, reject or stop."""
    policy = plan.gates[gate]
    with session_scope() as session:
        settled = gates.final_decision(session, incident_id, gate)
        if settled is not None:
            return settled.outcome
        past = gates.decisions(session, incident_id, gate)
    round_ = max((d.round for d in past), default=0) + 1
    escalations = sum(1 for d in past if d.outcome == "escalate")
    if auto_approve and plan.drill.auto_decide_after_s == 0:
        return _record(
            incident_id,
            gate,
            plan,
            round_,
            "approve",
            "proceed",
            plan.drill.decider,
            None,
            utcnow(),
        )
    while True:
        allowed = gates.deciders_for_round(policy, escalations)
        requested_at = utcnow()
        timeout = plan.drill.auto_decide_after_s if auto_approve else policy.timeout_s
        _announce(incident_id, gate, plan, round_, allowed, context)
        try:
            answer = pause_flow_run(
                wait_for_input=GateInput.with_initial_data(
                    description=_form_text(incident_id, gate, plan, allowed, context),
                    decision="approve",
                ),
                timeout=max(1, math.ceil(timeout)),
                poll_interval=get_settings().gate_poll_interval_s,  # type: ignore[arg-type]
                key=f"{gate.replace('_', '-')}-{round_}",
            )
        except FlowPauseTimeout:
            _back_to_running()
            if auto_approve:
                return _record(
                    incident_id,
                    gate,
                    plan,
                    round_,
                    "approve",
                    "proceed",
                    plan.drill.decider,
                    None,
                    requested_at,
                )
            if policy.on_timeout == "escalate" and escalations < policy.max_escalations:
                _record(
                    incident_id,
                    gate,
                    plan,
                    round_,
                    "timeout",
                    "escalate",
                    "timeout",
                    None,
                    requested_at,
                )
                escalations, round_ = escalations + 1, round_ + 1
                continue
            outcome = (
                policy.on_final_timeout if policy.on_timeout == "escalate" else policy.on_timeout
            )
            return _record(
                incident_id, gate, plan, round_, "timeout", outcome, "timeout", None, requested_at
            )
        assert answer is not None
        try:
            role = gates.check_decider(plan, gate, answer.approver, allowed)
        except GateRefused as refused:
            get_run_logger().warning(str(refused))
            _record(
                incident_id,
                gate,
                plan,
                round_,
                answer.decision,
                "refused",
                answer.approver,
                None,
                requested_at,
                accepted=False,
                comment=answer.comment,
            )
            round_ += 1
            continue
        if answer.decision == "escalate":
            _record(
                incident_id,
                gate,
                plan,
                round_,
                "escalate",
                "escalate",
                answer.approver,
                role,
                requested_at,
                comment=answer.comment,
            )
            escalations, round_ = escalations + 1, round_ + 1
            continue
        outcome = "proceed" if answer.decision == "approve" else "reject"
        return _record(
            incident_id,
            gate,
            plan,
            round_,
            answer.decision,
            outcome,
            answer.approver,
            role,
            requested_at,
            comment=answer.comment,
            priority_override=answer.priority_override,
        )


def _record(
    incident_id: str,
    gate: str,
    plan: Plan,
    round_: int,
    decision: str,
    outcome: str,
    approver: str,
    role: str | None,
    requested_at: object,
    *,
    accepted: bool = True,
    comment: str = "",
    priority_override: Priority | None = None,
) -> str:
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        gates.record_decision(
            session,
            incident,
            gate,
            plan.gates[gate],
            round_=round_,
            decision=decision,
            outcome=outcome,
            approver=approver,
            approver_role=role,
            requested_at=requested_at,  # type: ignore[arg-type]
            accepted=accepted,
            comment=comment,
            priority_override=priority_override.value if priority_override else None,
        )
    return outcome


def _announce(
    incident_id: str, gate: str, plan: Plan, round_: int, allowed: list[str], context: str
) -> None:
    policy = plan.gates[gate]
    with session_scope() as session:
        timeline.record(
            session,
            incident_id,
            policy.stage,
            "gate_waiting",
            f"Gate {gate} waiting for {', '.join(allowed)} (round {round_}): {policy.question}",
            data={
                "gate": gate,
                "round": round_,
                "deciders": allowed,
                "flow_run_id": flow_run.get_id(),
            },
        )


def _form_text(incident_id: str, gate: str, plan: Plan, allowed: list[str], context: str) -> str:
    policy = plan.gates[gate]
    who = ", ".join(f"`{r}` ({plan.organisation.roles[r].person})" for r in allowed)
    return (
        f"### {policy.title} - {incident_id}\n\n{policy.question}\n\n{context}\n\n"
        f"**May decide:** {who}. Timeout {policy.timeout_s:g} s, then: {policy.on_timeout}.\n\n"
        f'From a shell: `irp approve {incident_id} --decision approve --by <role> --comment "..."`'
    )


def _back_to_running() -> None:
    """After a pause timeout Prefect leaves the run Paused; the policy decides what happens next."""
    run_id = flow_run.get_id()
    if run_id:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Running(), force=True)
