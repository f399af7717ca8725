"""Gates on record: what was decided, who was refused, where a gate stands. The rules (who may
decide, what a timeout means) are the gate machine's (irp/gates/machine.py); this module keeps
its verdicts. Functions without a `session` are one transaction each, for the flow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from irp.db import session_scope
from irp.errors import GateRefused, NotFound
from irp.gates import waits
from irp.gates.machine import FINAL_OUTCOMES, Answer, GateOutcome, GateRound, Verdict, judge
from irp.incidents import recovery, timeline
from irp.incidents import service as incidents
from models import GateDecision, Incident, TimelineEvent
from models.enums import IncidentStatus, Priority, Stage
from models.plan import Plan


def admit(
    session: Session,
    plan: Plan,
    incident_id: str,
    round_: GateRound,
    answer: Answer,
    *,
    requested_at: datetime,
) -> str:
    """The approver's role when the gate machine lets them decide this round. Otherwise the
    refusal (who, when, why) is recorded and committed, then GateRefused raised: the UI form
    and `irp approve` refuse the same way, and a refusal stays on record."""
    verdict = judge(round_, answer, plan)
    if not verdict.accepted or verdict.role is None:
        record_decision(session, incident_id, round_, verdict, requested_at)
        session.commit()
        raise GateRefused(verdict.reason)
    return verdict.role


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


@dataclass(frozen=True)
class Asking:
    """What putting a round to its deciders depends on."""

    asked: waits.RoundAsked | None
    """When and by which runs the round was asked before (None: never announced)."""
    refusal: Refusal | None
    """The last answer's refusal, which the form leads with."""


def asking(incident_id: str, gate: str, round_number: int) -> Asking:
    """Whether the round was asked before (a run resuming or taking over neither announces
    twice nor restarts the clock) and why the last answer was refused, if it was."""
    with session_scope() as session:
        asked = waits.round_asked(session, incident_id, gate, round_number)
        return Asking(asked, last_refusal(session, incident_id, gate))


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


def _escalations(past: list[GateDecision]) -> int:
    return sum(1 for d in past if d.outcome == GateOutcome.escalate)


@dataclass(frozen=True)
class Standing:
    """Where a gate stands when a run reaches it: settled, or the round to ask next."""

    settled: GateOutcome | None
    round: int
    escalations: int
    undecided: bool
    """No decision is recorded for `round` yet: an answer a crashed run got still counts."""


def standing(incident_id: str, gate: str) -> Standing:
    """Where `gate` stands: its settled outcome, or the round to ask and after how many
    escalations (a resumed or recovered run asks the open round again)."""
    with session_scope() as session:
        settled = final_decision(session, incident_id, gate)
        if settled is not None:
            return Standing(GateOutcome(settled.outcome), settled.round, 0, undecided=False)
        past = decisions(session, incident_id, gate)
        round_ = waits.round_to_ask(session, incident_id, gate, past)
    undecided = all(d.round != round_ for d in past)
    return Standing(None, round_, _escalations(past), undecided)


def record_verdict(
    incident_id: str,
    round_: GateRound,
    verdict: Verdict,
    *,
    requested_at: datetime,
    flow_run_id: str | None,
) -> GateOutcome:
    """Keep the machine's verdict, unless another run took the incident over (Superseded: a
    run taken for dead and replaced decides nothing)."""
    with session_scope() as session:
        recovery.ensure_driving(session, incident_id, flow_run_id)
        record_decision(session, incident_id, round_, verdict, requested_at)
    return verdict.outcome


def record_decision(
    session: Session,
    incident_id: str,
    round_: GateRound,
    verdict: Verdict,
    requested_at: datetime,
) -> GateDecision:
    """Keep a decision and put it on the timeline; a refusal's reason goes with it."""
    row = GateDecision(
        incident_id=incident_id,
        gate=round_.gate,
        stage=round_.policy.stage.value,
        round=round_.number,
        decision=verdict.decision.value,
        outcome=verdict.outcome.value,
        approver=verdict.approver,
        approver_role=verdict.role,
        accepted=verdict.accepted,
        comment=verdict.comment,
        priority_override=verdict.priority_override.value if verdict.priority_override else None,
        requested_at=requested_at,
    )
    session.add(row)
    session.flush()
    verb = f"{verdict.decision} -> {verdict.outcome}" if verdict.accepted else "refused"
    timeline.record(
        session,
        incident_id,
        round_.policy.stage,
        "gate_decision" if verdict.accepted else "gate_refused",
        f"Gate {round_.gate} round {round_.number}: {verb} by {verdict.approver}"
        + (f" ({verdict.role})" if verdict.role else "")
        + (f": {verdict.comment}" if verdict.comment else ""),
        actor=verdict.approver,
        data={
            "gate": round_.gate,
            "decision": verdict.decision.value,
            "outcome": verdict.outcome.value,
            "round": round_.number,
        }
        | ({"reason": verdict.reason} if verdict.reason else {}),
    )
    return row


@dataclass(frozen=True)
class PriorityChange:
    """A decider's priority override still to apply."""

    priority: Priority
    by: str


def settle_stage_gate(incident_id: str, gate: str, outcome: GateOutcome) -> PriorityChange | None:
    """Apply a stage gate's outcome: a reject or a stop ends the incident cleanly; a proceed
    returns the decider's priority override, unless it was applied before this run took over."""
    with session_scope() as session:
        decision = final_decision(session, incident_id, gate)
        incident = incidents.get_incident(session, incident_id)
        if outcome is GateOutcome.reject:
            incidents.end_incident(
                session, incident, IncidentStatus.rejected, f"Gate {gate} rejected"
            )
        elif outcome is GateOutcome.stop:
            incidents.end_incident(
                session, incident, IncidentStatus.stopped, f"Gate {gate} timed out: stopped safely"
            )
        if decision is None or outcome is not GateOutcome.proceed:
            return None
        override = decision.priority_override
        if not override or override == incident.priority:
            return None
        return PriorityChange(Priority(override), decision.approver)


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


def waiting_round(
    session: Session, plan: Plan, incident: Incident
) -> tuple[GateRound, WaitingGate]:
    """The gate round the incident waits at, as the machine judges it (NotFound if none)."""
    waiting = waiting_gate(session, incident)
    past = decisions(session, incident.id, waiting.gate)
    round_ = GateRound(
        waiting.gate, plan.gate_policy(waiting.gate), waiting.round, _escalations(past)
    )
    return round_, waiting
