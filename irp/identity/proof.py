"""Proving an answer with a one-time code or signed link (apart from sending them, in
irp/identity/service.py, so that the core, which admits answers, needs no notification code).

The code is checked against its keyed hash for the person, subject and round, and spent once;
the proven person goes on the timeline with the channel the code went to, never the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from irp.identity import codes
from irp.identity.codes import Binding, Check
from irp.identity.keys import identity_key
from irp.identity.people import Decider
from irp.incidents import timeline
from models import OneTimeCode
from models.base import utcnow


@dataclass(frozen=True)
class Asked:
    """What a code answers and what its message tells the person."""

    incident_id: str
    subject: str
    round: int
    title: str
    question: str
    stage: str
    expires_at: datetime
    rounds: bool = True
    """A gate asks again each round (messages name it); a task asks once."""

    @property
    def which(self) -> str:
        """The subject as messages name it: `gate:activation round 2`, `task:7`."""
        return f"{self.subject} round {self.round}" if self.rounds else self.subject


@dataclass(frozen=True)
class Proof:
    """The outcome of presenting a code or link: the person proven, or why not."""

    check: Check
    person: Decider | None
    channel: str = ""

    @property
    def ok(self) -> bool:
        return self.check is Check.ok and self.person is not None


def prove(
    session: Session,
    asked: Asked,
    person: Decider | None,
    proof: str,
    *,
    now: datetime | None = None,
) -> Proof:
    """Check `proof` (a code or a link token) for `person` on this round and spend it; a
    proven answer goes on the timeline with the channel its code went to. A refusal is the
    caller's to record (a gate records it as a refused decision)."""
    now = now or utcnow()
    if person is None or not proof.strip():
        return Proof(Check.wrong, person)
    binding = Binding(asked.incident_id, asked.subject, asked.round, person.person)
    check, row = _check(session, binding, proof.strip(), now)
    if check is Check.ok and row is not None:
        spent = session.execute(
            update(OneTimeCode)
            .where(col(OneTimeCode.id) == row.id, col(OneTimeCode.used_at).is_(None))
            .values(used_at=now)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            return Proof(Check.used, person)
        how = "link" if codes.is_link_token(proof) else "code"
        timeline.record(
            session,
            asked.incident_id,
            asked.stage,
            "answer_proven",
            f"{asked.which}: {person.name} ({person.role}) proven by the "
            f"one-time {how} sent via {row.channel}",
            actor=person.name,
            data={
                "subject": asked.subject,
                "round": asked.round,
                "person": person.person,
                "role": person.role,
                "channel": row.channel,
                "proof": how,
            },
        )
        return Proof(Check.ok, person, row.channel)
    return Proof(check, person)


def _check(
    session: Session, binding: Binding, proof: str, now: datetime
) -> tuple[Check, OneTimeCode | None]:
    key = identity_key()
    if codes.is_link_token(proof):
        claim = codes.read_link(key, proof)
        if claim is None or claim.binding != binding:
            return Check.wrong, None
        row = session.get(OneTimeCode, claim.row_id)
        if row is None or _binding(row) != binding:
            return Check.wrong, None
        if row.used_at is not None:
            return Check.used, row
        expired = now >= min(row.expires_at, claim.expires_at + timedelta(seconds=1))
        return (Check.expired if expired else Check.ok), row
    query = (
        select(OneTimeCode)
        .where(
            OneTimeCode.incident_id == binding.incident_id,
            OneTimeCode.subject == binding.subject,
            OneTimeCode.round == binding.round,
            OneTimeCode.person == binding.person,
        )
        .order_by(col(OneTimeCode.id).desc())
    )
    for row in session.exec(query):
        check = codes.check_code(
            key,
            binding,
            proof,
            row.code_hash,
            expires_at=row.expires_at,
            used_at=row.used_at,
            now=now,
        )
        if check is not Check.wrong:
            return check, row
    return Check.wrong, None


def _binding(row: OneTimeCode) -> Binding:
    return Binding(row.incident_id, row.subject, row.round, row.person)


def link_row(session: Session, token: str) -> OneTimeCode | None:
    """The code row a correctly signed link names (for the confirmation page), else None."""
    claim = codes.read_link(identity_key(), token)
    if claim is None:
        return None
    row = session.get(OneTimeCode, claim.row_id)
    return row if row is not None and _binding(row) == claim.binding else None
