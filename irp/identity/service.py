"""One-time codes on record: issue them to each allowed person over their own channel, and
prove an answer with one (irp/identity/proof.py, re-exported here): a gate under the subject
`gate:<gate>`, a manual task under `task:<id>`.

Only the code's keyed hash is stored; the code and the link exist in the message to their
person alone. The timeline says who got a code and over which channel (masked), and who
proved an answer, never the code.
"""

from __future__ import annotations

import logging
import re

from pydantic import SecretStr
from sqlmodel import Session, select

from irp.identity import codes
from irp.identity.codes import Binding
from irp.identity.keys import identity_key
from irp.identity.people import Decider
from irp.identity.proof import Asked as Asked
from irp.identity.proof import Proof as Proof
from irp.identity.proof import link_row as link_row
from irp.identity.proof import prove as prove
from irp.incidents import timeline
from irp.notify.delivery import deliver
from irp.notify.routing import resolve_url
from irp.notify.service import masked_target
from irp.settings import get_settings
from models import OneTimeCode

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


def link_base() -> str:
    settings = get_settings()
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.webhook_host}:{settings.webhook_port}"


def issued(session: Session, incident_id: str, subject: str, round_number: int) -> bool:
    """Whether codes went out for this question and round (then every answer needs one)."""
    query = select(OneTimeCode.id).where(
        OneTimeCode.incident_id == incident_id,
        OneTimeCode.subject == subject,
        OneTimeCode.round == round_number,
    )
    return session.exec(query).first() is not None


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
        title = f"irp {asked.incident_id}: your code for {asked.title}"
        title += f" (round {asked.round})" if asked.rounds else ""
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
            f"{asked.which}: one-time code for {person.name} ({person.role}) {how}",
            data={
                "subject": asked.subject,
                "round": asked.round,
                "person": person.person,
                "channel": described,
            },
        )
    return reached
