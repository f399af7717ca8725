"""`irp approve --code` and the link page: a person's answer with the proof their code gives.

The run checks the code when it resumes (irp/identity/gates.py), so this side only names the
person, resumes, and waits for the run's verdict on that round to say it back.
"""

from __future__ import annotations

import time

from deployments.runs import resume_gate, show_refusal, triage_input
from irp.db import session_scope
from irp.errors import GateRefused, InvalidInput, IrpError
from irp.gates import service as gates
from irp.gates.machine import Answer, GateOutcome, Verdict
from irp.identity import gates as proven
from irp.incidents import service as incidents
from irp.plan.loader import plan_for

VERDICT_WAIT_S = 30.0


def codes_asked(incident_id: str) -> bool:
    """Whether the gate the incident waits at sent codes for its round."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        waiting = gates.waiting_gate(session, incident)
        return proven.codes_sent(session, incident_id, waiting.gate, waiting.round)


def answer_with_code(
    incident_id: str, answer: Answer, code: str, incident_type: str | None = None
) -> str:
    """Resume the gate with the person and their code, then wait for the run's verdict:
    GateRefused (exit 2) if the run refused it (recorded by the run), else the gate."""
    if not code.strip():
        raise InvalidInput("--code: this gate wants the one-time code sent to you")
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        plan = plan_for(incident)
        round_, waiting = gates.waiting_round(session, plan, incident)
        person = proven.person_for(plan, round_, answer.approver)
        if person is None:
            reason = proven.not_allowed(plan, round_, answer.approver)
            verdict = Verdict(GateOutcome.refused, answer.decision, answer.approver, reason=reason)
            gates.record_decision(session, incident_id, round_, verdict, waiting.since)
    if person is None:
        refused = GateRefused(reason)
        show_refusal(incident_id, refused)
        raise refused
    run_input = {
        "decision": answer.decision.value,
        "approver": person.person,
        "comment": answer.comment,
        "priority_override": answer.priority_override,
        "code": code.strip(),
    } | triage_input(waiting.gate, answer.decision.value, incident_type)
    before = len(_round_decisions(incident_id, waiting.gate, waiting.round))
    resume_gate(incident_id, waiting, run_input)
    _await_verdict(incident_id, waiting.gate, waiting.round, before)
    return waiting.gate


def _round_decisions(incident_id: str, gate: str, round_number: int) -> list[bool]:
    """Whether each decision recorded on the round so far was accepted, oldest first."""
    with session_scope() as session:
        found = gates.decisions(session, incident_id, gate)
        return [d.accepted for d in found if d.round == round_number]


def _await_verdict(incident_id: str, gate: str, round_number: int, before: int) -> None:
    """Until the run records its verdict on this answer (a decision of the round after the
    `before` already there, such as an earlier refusal): GateRefused with its reason."""
    deadline = time.monotonic() + VERDICT_WAIT_S
    while time.monotonic() < deadline:
        found = _round_decisions(incident_id, gate, round_number)
        if len(found) > before:
            if found[-1]:
                return
            with session_scope() as session:
                refusal = gates.last_refusal(session, incident_id, gate)
            raise GateRefused(refusal.reason if refusal else "the run refused the answer")
        time.sleep(0.2)
    raise IrpError(f"{incident_id}: the answer was sent; the run has not judged it yet")
