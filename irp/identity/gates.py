"""Proven gate answers: the codes a gate round sends, and the proof its answer must carry.

The flow (flows/gates.py) calls `send_codes` when a round is announced and `prove_answer`
when an answer arrives; `irp approve --code` and the link page resume the run with the same
fields, so every path is checked here, once, by the run itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import SecretStr
from sqlmodel import Session

from irp.db import session_scope
from irp.gates.machine import GateRound
from irp.identity import service
from irp.identity.people import Decider, deciders, named
from irp.incidents import service as incidents
from irp.notify.routing import resolve_url
from irp.redact import default_redactor
from irp.settings import get_settings
from models.base import utcnow
from models.plan import Plan


def required(round_: GateRound) -> bool:
    """A person's answer needs a code unless the drill policy answers this round."""
    return get_settings().gate_codes and round_.auto is None


def subject(gate: str) -> str:
    return f"gate:{gate}"


def asked(incident_id: str, round_: GateRound) -> service.Asked:
    policy = round_.policy
    return service.Asked(
        incident_id=incident_id,
        subject=subject(round_.gate),
        round=round_.number,
        title=policy.title,
        question=policy.question,
        stage=policy.stage.value,
        expires_at=utcnow() + timedelta(seconds=round_.wait_s),
    )


def drill_channels(plan: Plan, notify_url: str | None) -> list[SecretStr] | None:
    """Where a drill's codes go: the run's notify_url or the plan's drill targets, as every
    drill message does, unless the plan lets drills page real people (their own channels)."""
    if plan.notifications.drill.page_real_people:
        return None
    if notify_url:
        return [SecretStr(notify_url)]
    return [u for u in map(resolve_url, plan.notifications.drill.targets) if u is not None]


def send_codes(incident_id: str, plan: Plan, round_: GateRound, notify_url: str | None) -> int:
    """Each person who may answer this round gets a code and a link; the number reached."""
    with session_scope() as session:
        drill = incidents.get_incident(session, incident_id).drill
        override = drill_channels(plan, notify_url) if drill else None
        return service.issue(
            session, asked(incident_id, round_), deciders(plan, round_.deciders), override=override
        )


def person_for(plan: Plan, round_: GateRound, who: str) -> Decider | None:
    """The person allowed in this round that `who` names, else None."""
    return named(plan, round_.deciders, who)


def not_allowed(plan: Plan, round_: GateRound, who: str) -> str:
    """Why `who` may not answer, naming who may (the name masked: it reaches the form)."""
    allowed = ", ".join(f"{d.person} ({d.name})" for d in deciders(plan, round_.deciders))
    return f"{default_redactor().redact(who)!r} may not answer this round; allowed: {allowed}"


def codes_sent(session: Session, incident_id: str, gate: str, round_number: int) -> bool:
    """Whether this round asked for codes (then every answer must carry one)."""
    return service.issued(session, incident_id, subject(gate), round_number)


@dataclass(frozen=True)
class GateProof:
    """A proven person (their role answers), or the refusal's reason."""

    person: Decider | None
    reason: str = ""


def prove_answer(
    incident_id: str, plan: Plan, round_: GateRound, who: str, proof: str
) -> GateProof:
    """Check and spend the answer's code or link for the round (committed at once: a code
    seen is spent even if the run dies next)."""
    person = person_for(plan, round_, who)
    with session_scope() as session:
        checked = service.prove(session, asked(incident_id, round_), person, proof)
    if checked.ok:
        return GateProof(checked.person)
    if person is None:
        return GateProof(None, not_allowed(plan, round_, who))
    return GateProof(None, f"{checked.check.reason} for {person.name}")
