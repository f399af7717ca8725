"""One-time codes on record: issue them to each allowed person over their own channel, and
prove an answer with one (a gate now; a manual task plugs in with `issue` and `prove` under
its own subject, `task:<id>`).

Only the code's keyed hash is stored; the code and the link exist in the message to their
person alone. The timeline says who got a code and over which channel (masked), and who
proved an answer, never the code.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import update
from sqlmodel import Session, col, select

from irp.identity import codes
from irp.identity.codes import Binding, Check
from irp.identity.keys import identity_key
from irp.identity.people import Decider
from irp.incidents import timeline
from irp.notify.delivery import deliver
from irp.notify.routing import resolve_url
from irp.notify.service import masked_target
from irp.settings import get_settings
from models import OneTimeCode
from models.base import utcnow

LINK_PATH = "/answer"
_SECRETS_IN_LOG = re.compile(rf"(Code: |{LINK_PATH}/)[^\s'\"\\]+")


class HideCodes(logging.Filter):
    """Star codes and link tokens in a log line: Apprise logs a message's payload at DEBUG, a
    web server the path of a link it serves."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if _SECRETS_IN_LOG.search(text):
            record.msg, record.args = _SECRETS_IN_LOG.sub(r"\1****", text), None
        return True


def hide_codes_from(logger: logging.Logger) -> None:
    if not any(isinstance(f, HideCodes) for f in logger.filters):
        logger.addFilter(HideCodes())


SEND_ATTEMPTS = 2
SEND_TIMEOUT_S = 10.0


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


def link_base() -> str:
    settings = get_settings()
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.webhook_host}:{settings.webhook_port}"


def issue(
    session: Session,
    asked: Asked,
    people: list[Decider],
    *,
    override: list[SecretStr] | None = None,
) -> int:
    """Send each person a fresh code and signed link for this round; the number reached.

    `override` replaces every person's own channels (a drill's target: the drill's people
    read their codes there). A person no channel reaches is named on the timeline: nobody can
    prove an answer for them this round."""
    key = identity_key()
    hide_codes_from(logging.getLogger("apprise"))
    reached = 0
    for person in people:
        channels = override if override is not None else list(person.channels)
        urls = [u for u in map(resolve_url, channels) if u is not None]
        binding = Binding(asked.incident_id, asked.subject, asked.round, person.person)
        code = codes.new_code()
        described = ", ".join(masked_target(u.get_secret_value()) for u in urls) or "none"
        row = OneTimeCode(
            incident_id=asked.incident_id,
            subject=asked.subject,
            round=asked.round,
            person=person.person,
            code_hash=codes.code_hash(key, binding, code),
            channel=described[:500],
            expires_at=asked.expires_at,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        token = codes.sign_link(key, row.id, binding, asked.expires_at)
        title = f"irp {asked.incident_id}: your code for {asked.title} (round {asked.round})"
        body = (
            f"{person.name}, you may answer as {person.role}: {asked.question}\n\n"
            f"Code: {code}\nOr open: {link_base()}{LINK_PATH}/{token}\n\n"
            f"Valid once, until {asked.expires_at:%Y-%m-%d %H:%M} UTC. For you alone: do not "
            "forward it."
        )
        sent = [
            u
            for u in urls
            if deliver(
                u.get_secret_value(),
                title,
                body,
                max_attempts=SEND_ATTEMPTS,
                timeout_s=SEND_TIMEOUT_S,
            ).ok
        ]
        reached += bool(sent)
        how = f"sent via {described}" if sent else f"NOT delivered (channels: {described})"
        timeline.record(
            session,
            asked.incident_id,
            asked.stage,
            "code_sent" if sent else "code_undelivered",
            f"{asked.subject} round {asked.round}: one-time code for {person.name} "
            f"({person.role}) {how}",
            data={
                "subject": asked.subject,
                "round": asked.round,
                "person": person.person,
                "channel": described,
            },
        )
    return reached


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
            f"{asked.subject} round {asked.round}: {person.name} ({person.role}) proven by the "
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
