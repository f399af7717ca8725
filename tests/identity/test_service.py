"""Codes on record: each allowed person gets their own over their own channel; the code, or
the link, proves the answer once, for that person, gate and round, until it expires; only a
keyed hash is stored, and the timeline names the person and the channel, never the code."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from irp.db import session_scope
from irp.identity import service
from irp.identity.codes import Check
from irp.identity.keys import key_file
from irp.identity.people import Decider
from irp.incidents import service as incidents
from models import OneTimeCode, TimelineEvent
from models.base import utcnow
from models.enums import IncidentType
from tests.factories import make_intake
from tests.identity.helpers import last_code, last_link, secrets_sent
from tests.notify.receiver import Receiver


@pytest.fixture
def receiver() -> Receiver:
    with Receiver() as rx:
        yield rx


def _incident() -> str:
    with session_scope() as session:
        incident = incidents.open_incident(
            session, IncidentType.system_failure, make_intake(IncidentType.system_failure)
        )
        return incident.id


def _asked(incident_id: str, round_: int = 1, minutes: float = 15) -> service.Asked:
    return service.Asked(
        incident_id,
        "gate:activation",
        round_,
        "Activate the plan",
        "Activate?",
        "command",
        utcnow() + timedelta(minutes=minutes),
    )


def _people(receiver: Receiver) -> list[Decider]:
    return [
        Decider("alice", "Alice", "cio", (SecretStr(receiver.url("json", "/alice")),)),
        Decider("bob", "Bob", "ciso", (SecretStr(receiver.url("json", "/bob")),)),
    ]


def _prove(asked: service.Asked, person: Decider, proof: str, **kw: object) -> Check:
    with session_scope() as session:
        return service.prove(session, asked, person, proof, **kw).check  # type: ignore[arg-type]


def test_each_person_gets_their_own_code_which_works_once(receiver: Receiver) -> None:
    incident_id = _incident()
    alice, bob = _people(receiver)
    asked = _asked(incident_id)
    with session_scope() as session:
        assert service.issue(session, asked, [alice, bob]) == 2
    code_a, code_b = last_code(receiver, "/alice"), last_code(receiver, "/bob")
    assert code_a != code_b
    assert _prove(asked, alice, code_b) is Check.wrong  # Bob's code is not Alice's
    assert _prove(_asked(incident_id, round_=2), alice, code_a) is Check.wrong  # another round
    assert _prove(asked, alice, code_a) is Check.ok
    assert _prove(asked, alice, code_a) is Check.used
    assert _prove(asked, bob, last_link(receiver, "/bob").rsplit("/", 1)[-1]) is Check.ok
    assert _prove(asked, bob, code_b) is Check.used  # the link spent Bob's code too

    with session_scope() as session:
        rows = list(session.exec(select(OneTimeCode)))
        query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
        events = list(session.exec(query.order_by(col(TimelineEvent.id))))
    assert len(rows) == 2 and all(r.used_at is not None for r in rows)
    proven = [e for e in events if e.kind == "answer_proven"]
    assert [(e.actor, e.data["person"], e.data["proof"]) for e in proven] == [
        ("Alice", "alice", "code"),
        ("Bob", "bob", "link"),
    ]
    assert f"127.0.0.1:{receiver.port}/alice" in proven[0].data["channel"]
    sent = [e for e in events if e.kind == "code_sent"]
    assert [e.data["person"] for e in sent] == ["alice", "bob"]
    stored = json.dumps(
        [r.model_dump(mode="json") for r in rows] + [[e.message, e.data] for e in events]
    )
    for secret in secrets_sent(receiver):
        assert secret not in stored


def test_an_expired_code_or_link_is_refused(receiver: Receiver) -> None:
    incident_id = _incident()
    alice, _ = _people(receiver)
    asked = _asked(incident_id, minutes=1)
    with session_scope() as session:
        service.issue(session, asked, [alice])
    later = utcnow() + timedelta(minutes=2)
    token = last_link(receiver, "/alice").rsplit("/", 1)[-1]
    assert _prove(asked, alice, last_code(receiver, "/alice"), now=later) is Check.expired
    assert _prove(asked, alice, token, now=later) is Check.expired
    assert _prove(asked, alice, token) is Check.ok


def test_a_person_no_channel_reaches_is_on_the_timeline(receiver: Receiver) -> None:
    incident_id = _incident()
    nobody = Decider("carol", "Carol", "cio", (SecretStr("${IRP_TEST_UNSET_CHANNEL}"),))
    os.environ.pop("IRP_TEST_UNSET_CHANNEL", None)
    with session_scope() as session:
        assert service.issue(session, _asked(incident_id), [nobody]) == 0
        event = session.exec(
            select(TimelineEvent).where(TimelineEvent.kind == "code_undelivered")
        ).one()
    assert "Carol" in event.message and "NOT delivered" in event.message


def test_the_key_file_is_private_and_reused(irp_home: Path, receiver: Receiver) -> None:
    incident_id = _incident()
    with session_scope() as session:
        service.issue(session, _asked(incident_id), _people(receiver)[:1])
    path = key_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    with session_scope() as session:
        service.issue(session, _asked(incident_id, round_=2), _people(receiver)[:1])
    assert path.read_bytes() == first


def test_log_lines_star_codes_and_link_tokens() -> None:
    """Apprise's DEBUG payload line and uvicorn's access line, as they are logged."""
    hide = service.HideCodes()
    access = logging.LogRecord(
        "uvicorn.access",
        20,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/answer/eyJ.sig", "1.1", 200),
        None,
    )
    payload = logging.LogRecord(
        "apprise",
        10,
        "",
        0,
        "JSON Payload: %s",
        ({"message": "Code: 04711815\nOr open: http://h/answer/eyJ.sig"},),
        None,
    )
    for record in (access, payload):
        assert hide.filter(record)
        line = record.getMessage()
        assert "04711815" not in line and "eyJ.sig" not in line
        assert "/answer/****" in line
    assert "Code: ****" in payload.getMessage()
