"""Gate rules without Prefect: who may decide, what was decided, what a timeout means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from irp.errors import GateRefused, NotFound
from irp.incidents import timeline
from irp.redact import default_redactor
from models import GateDecision, Incident, TimelineEvent
from models.enums import Stage
from models.plan import GatePolicy, Plan

FINAL_OUTCOMES = ("proceed", "stop", "reject")


@dataclass(frozen=True)
class Answer:
    """A person's answer to a gate, from the UI form or `irp approve`."""

    decision: str
    approver: str
    comment: str = ""
    priority_override: str | None = None


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


def deciders_for_round(policy: GatePolicy, escalations: int) -> list[str]:
    return policy.escalate_to if escalations > 0 and policy.escalate_to else policy.deciders


def check_decider(plan: Plan, gate: str, approver: str, allowed: list[str]) -> str:
    """The approver's role, or GateRefused naming who may decide (the approver masked: the
    message reaches terminals, logs and the gate's form)."""
    role = resolve_role(plan, approver)
    if role is None or role not in allowed:
        names = ", ".join(f"{r} ({plan.organisation.roles[r].person})" for r in allowed)
        who = default_redactor().redact(approver)
        raise GateRefused(f"{who!r} may not decide gate {gate!r}; allowed: {names}")
    return role


def admit(
    session: Session,
    plan: Plan,
    incident: Incident,
    gate: str,
    answer: Answer,
    *,
    round_: int,
    allowed: list[str],
    requested_at: datetime,
) -> str:
    """The approver's role when the plan lets them decide this round. Otherwise the refusal
    (who, when, why) is recorded and committed, then GateRefused raised: the UI form and
    `irp approve` refuse the same way, and a refusal stays on record."""
    try:
        return check_decider(plan, gate, answer.approver, allowed)
    except GateRefused as refused:
        record_decision(
            session,
            incident,
            gate,
            plan.gates[gate],
            round_=round_,
            decision=answer.decision,
            outcome="refused",
            approver=answer.approver,
            approver_role=resolve_role(plan, answer.approver),
            requested_at=requested_at,
            accepted=False,
            comment=answer.comment,
            reason=str(refused),
        )
        session.commit()
        raise


@dataclass(frozen=True)
class Refusal:
    """A refused answer to a gate: the next form asking that gate says why."""

    approver: str
    at: datetime
    reason: str


def last_refusal(session: Session, incident_id: str, gate: str) -> Refusal | None:
    """The last answer to `gate`, if it was refused (an accepted one or a timeout since clears it)."""
    query = (
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident_id,
            col(TimelineEvent.kind).in_(("gate_decision", "gate_refused")),
        )
        .order_by(col(TimelineEvent.id).desc())
    )
    for event in session.exec(query):
        if event.data.get("gate") == gate:
            if event.kind != "gate_refused":
                return None
            return Refusal(event.actor, event.at, str(event.data.get("reason", "")))
    return None


def decisions(session: Session, incident_id: str, gate: str | None = None) -> list[GateDecision]:
    query = select(GateDecision).where(GateDecision.incident_id == incident_id)
    if gate is not None:
        query = query.where(GateDecision.gate == gate)
    return list(session.exec(query.order_by(col(GateDecision.id))))


def final_decision(session: Session, incident_id: str, gate: str) -> GateDecision | None:
    """The decision that settled the gate, if any (a re-run must not ask again)."""
    for decision in decisions(session, incident_id, gate):
        if decision.accepted and decision.outcome in FINAL_OUTCOMES:
            return decision
    return None


def record_decision(
    session: Session,
    incident: Incident,
    gate: str,
    policy: GatePolicy,
    *,
    round_: int,
    decision: str,
    outcome: str,
    approver: str,
    approver_role: str | None,
    requested_at: datetime,
    accepted: bool = True,
    comment: str = "",
    priority_override: str | None = None,
    reason: str = "",
) -> GateDecision:
    """Keep a decision and put it on the timeline; a refusal's `reason` goes with it."""
    row = GateDecision(
        incident_id=incident.id,
        gate=gate,
        stage=policy.stage.value,
        round=round_,
        decision=decision,
        outcome=outcome,
        approver=approver,
        approver_role=approver_role,
        accepted=accepted,
        comment=comment,
        priority_override=priority_override,
        requested_at=requested_at,
    )
    session.add(row)
    session.flush()
    verb = "refused" if not accepted else f"{decision} -> {outcome}"
    timeline.record(
        session,
        incident.id,
        policy.stage,
        "gate_decision" if accepted else "gate_refused",
        f"Gate {gate} round {round_}: {verb} by {approver}"
        + (f" ({approver_role})" if approver_role else "")
        + (f": {comment}" if comment else ""),
        actor=approver,
        data={"gate": gate, "decision": decision, "outcome": outcome, "round": round_}
        | ({"reason": reason} if reason else {}),
    )
    return row


@dataclass(frozen=True)
class WaitingGate:
    gate: str
    stage: Stage
    round: int
    deciders: list[str]
    flow_run_id: str | None
    since: datetime
    """When the round was announced: a refusal's wait is counted from here."""


def waiting_gate(session: Session, incident: Incident) -> WaitingGate:
    """The gate the incident is waiting at, from the timeline's last gate_waiting event."""
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "gate_waiting")
        .order_by(col(TimelineEvent.id).desc())
    )
    event = session.exec(query).first()
    if event is None:
        raise NotFound(f"incident {incident.id} is not waiting at a gate")
    data = event.data
    settled = [
        d
        for d in decisions(session, incident.id, data["gate"])
        if d.accepted and d.round >= int(data["round"])
    ]
    if settled:
        raise NotFound(f"incident {incident.id} is not waiting at a gate (last: {data['gate']})")
    return WaitingGate(
        gate=data["gate"],
        stage=Stage(event.stage),
        round=int(data["round"]),
        deciders=list(data["deciders"]),
        flow_run_id=incident.flow_run_id,
        since=event.at,
    )
