"""Proven task answers on real databases and a real local receiver: a task opened for people
sends each owner's person a code and a link; `irp tasks done --code` and the link page (real
HTTP on the webhook app) answer it; no code, a wrong, another person's, an expired or a spent
code is refused and recorded; the timeline names the proven person and never holds a code."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select

from irp.cli.main import main
from irp.db import session_scope
from irp.identity import task_codes
from irp.identity import tasks as proven
from irp.incidents import timeline
from irp.incidents.service import open_incident
from irp.plan.loader import get_plan
from irp.response import manual
from irp.settings import get_settings
from models import OneTimeCode, TimelineEvent
from models.base import utcnow
from models.enums import IncidentType
from models.manual_task import TaskStatus
from tests.factories import make_intake
from tests.identity.helpers import last_code, last_link, link_page, messages_for, secrets_sent
from tests.notify.receiver import Receiver

TECHNICAL = {"/it": "IRP_PERSON_IT_MANAGER", "/sec": "IRP_PERSON_SECURITY_ENGINEER"}
TECHNICAL["/sys"] = "IRP_PERSON_SYSADMIN"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """The technical group's people's own channels, with codes on."""
    with Receiver() as rx:
        monkeypatch.setenv("IRP_GATE_CODES", "true")
        for path, variable in TECHNICAL.items():
            monkeypatch.setenv(variable, rx.url("json", path))
        get_settings.cache_clear()
        yield rx


def _task(key: str = "restore_from_backup", summary: str = "DB down") -> int:
    """A real incident's task, opened and its codes sent as the flow does."""
    plan = get_plan()
    spec = next(a for a in plan.incident_type(IncidentType.system_failure).playbook if a.key == key)
    intake = make_intake(IncidentType.system_failure, summary=summary)
    with session_scope() as session:
        incident = open_incident(session, IncidentType.system_failure, intake)
        task = manual.open_task(session, incident.id, spec, plan, codes=True)
        session.expunge(task)
    assert task_codes.send_codes(task, plan, manual.owners(plan, task), None) == 3
    assert task.id is not None
    return task.id


def _done(task_id: int, by: str, code: str | None) -> int:
    argv = ["tasks", "done", str(task_id), "--by", by, "--note", "snapshot 42"]
    return main(argv + (["--code", code] if code is not None else []))


def _events(task_id: int) -> list[TimelineEvent]:
    with session_scope() as session:
        incident_id = manual.get_task(session, task_id).incident_id
        return timeline.events(session, incident_id)


def _refusals(task_id: int) -> list[str]:
    return [e.data["reason"] for e in _events(task_id) if e.kind == "task_refused"]


def _assert_no_secrets(receiver: Receiver, task_id: int, logged: str) -> None:
    secrets = secrets_sent(receiver)
    assert secrets
    events = _events(task_id)
    recorded = json.dumps([[e.message, e.data, e.actor] for e in events])
    with session_scope() as session:
        task = manual.get_task(session, task_id)
        stored = json.dumps(task.model_dump(mode="json"))
    for secret in secrets:
        assert secret not in recorded and secret not in stored and secret not in logged


def test_a_task_answered_from_a_shell_needs_the_code_sent_to_the_person(
    receiver: Receiver, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    task_id = _task()
    with session_scope() as session:
        task = manual.get_task(session, task_id)
        rows = session.exec(select(OneTimeCode).where(OneTimeCode.subject == f"task:{task_id}"))
        assert {r.expires_at for r in rows} == {task.due_at + timedelta(hours=24)}
    assert "Restore lost data from backup" in messages_for(receiver, "/sys")[0]
    code = last_code(receiver, "/sys")
    wrong = "00000000" if code != "00000000" else "11111111"
    capsys.readouterr()

    assert _done(task_id, "sysadmin_on_call", None) == 2  # no code
    assert "--code" in capsys.readouterr().err
    assert _done(task_id, "sysadmin_on_call", wrong) == 2
    assert _done(task_id, "sysadmin_on_call", last_code(receiver, "/it")) == 2  # not theirs
    assert _done(task_id, "cs_agent_on_duty", code) == 2  # not an owner's person
    assert "--by" in capsys.readouterr().err
    with session_scope() as session:
        assert manual.get_task(session, task_id).status is TaskStatus.open
    reasons = _refusals(task_id)
    assert len(reasons) == 4
    assert reasons[0].startswith("--code: task") and "needs the one-time code" in reasons[0]
    assert all("the code or link is wrong" in r for r in reasons[1:3])

    assert _done(task_id, "Sysadmin on call", code) == 0  # a person's name works too
    assert _done(task_id, "sysadmin_on_call", code) == 2  # spent: the task is answered
    with session_scope() as session:
        task = manual.get_task(session, task_id)
    assert (task.status, task.answered_by, task.answered_role) == (
        TaskStatus.done,
        "sysadmin",
        "sysadmin",
    )
    events = _events(task_id)
    proof = next(e for e in events if e.kind == "answer_proven")
    assert (proof.actor, proof.data["subject"], proof.data["proof"]) == (
        "Sysadmin on call",
        f"task:{task_id}",
        "code",
    )
    assert f"127.0.0.1:{receiver.port}/sys" in proof.message
    answered = next(e for e in events if e.kind == "task_answered")
    assert "done by sysadmin (Sysadmin on call): snapshot 42" in answered.message
    _assert_no_secrets(receiver, task_id, caplog.text + capsys.readouterr().err)


def test_an_expired_code_is_refused_and_recorded(receiver: Receiver) -> None:
    task_id = _task()
    with session_scope() as session:
        session.execute(
            update(OneTimeCode)
            .where(col(OneTimeCode.subject) == f"task:{task_id}")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert _done(task_id, "sysadmin_on_call", last_code(receiver, "/sys")) == 2
    assert _refusals(task_id) == ["--code: the code or link has expired for Sysadmin on call"]


def test_codes_off_or_not_sent_keep_the_role_answer(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task that sent no codes (opened with codes off) is answered by a role, as before."""
    monkeypatch.setenv("IRP_GATE_CODES", "false")
    get_settings.cache_clear()
    assert not proven.required(answered_by_policy=False)
    plan = get_plan()
    spec = next(
        a
        for a in plan.incident_type(IncidentType.system_failure).playbook
        if a.key == "restore_from_backup"
    )
    with session_scope() as session:
        incident = open_incident(
            session, IncidentType.system_failure, make_intake(IncidentType.system_failure)
        )
        task_id = manual.open_task(session, incident.id, spec, plan).id
    assert task_id is not None
    assert _done(task_id, "sysadmin", None) == 0
    assert not receiver.requests


def test_the_task_link_opens_a_page_whose_post_answers_it(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with link_page(monkeypatch) as base:
        task_id = _task("check_data_integrity", summary="DB down, call 13812345678")
        link, other = last_link(receiver, "/it"), last_link(receiver, "/sys")
        assert link.startswith(f"{base}/answer/")
        token = link.rsplit("/", 1)[-1]
        with httpx.Client(trust_env=False, timeout=60) as client:
            page = client.get(link)
            assert page.status_code == 200
            assert "Check data integrity after the repair" in page.text
            assert "cleanup.integrity_checks" in page.text  # the instructions
            assert "138****5678" in page.text and "13812345678" not in page.text
            assert "Answering as IT manager on duty" in page.text
            assert 'value="not_applicable"' in page.text
            with session_scope() as session:  # a GET never acts
                assert manual.get_task(session, task_id).status is TaskStatus.open
            post = f"{base}/answer"
            missing_note = {"token": token, "outcome": "done", "evidence": "ticket-9"}
            assert client.post(post, data=missing_note).status_code == 422
            no_evidence = client.post(post, data={"token": token, "outcome": "done", "note": "ok"})
            assert no_evidence.status_code == 403 and "--evidence" in no_evidence.text
            assert client.get(f"{base}/answer/{token[:-3]}xyz").status_code == 404
            done = client.post(post, data=missing_note | {"note": "checksums match"})
            assert done.status_code == 200, done.text
            assert "done by IT manager on duty" in done.text
            assert client.get(link).status_code == 410  # good once
            again = client.post(post, data=missing_note | {"note": "again"})
            assert again.status_code == 410
            assert client.get(other).status_code == 409  # the task is answered
    with session_scope() as session:
        task = manual.get_task(session, task_id)
    assert (task.status, task.answered_by, task.evidence) == (
        TaskStatus.done,
        "it_manager",
        "ticket-9",
    )
    proof = next(e for e in _events(task_id) if e.kind == "answer_proven")
    assert (proof.actor, proof.data["proof"]) == ("IT manager on duty", "link")
    logged = [r.getMessage() for r in caplog.records]
    ours = "\n".join(m for m in logged if not m.startswith(f"HTTP Request: GET {base}/answer/"))
    _assert_no_secrets(receiver, task_id, ours)


def test_a_tasks_codes_go_out_once_even_when_a_run_taking_over_sends_again(
    receiver: Receiver,
) -> None:
    """The flow sends codes for every task it waits on: a run that takes over from a process
    that died after opening a task sends that task's codes, and never a second set. A task asks
    once: its message names no round."""
    task_id = _task()  # opened and sent: 3 people reached
    plan = get_plan()
    with session_scope() as session:
        task = manual.get_task(session, task_id)
        session.expunge(task)
    assert task_codes.send_codes(task, plan, manual.owners(plan, task), None) == 0
    assert [len(messages_for(receiver, path)) for path in TECHNICAL] == [1, 1, 1]
    titles = [str(r.json["title"]) for r in receiver.requests if r.json is not None]
    assert titles and all(
        t.endswith(f"task {task_id} Restore lost data from backup") for t in titles
    )
