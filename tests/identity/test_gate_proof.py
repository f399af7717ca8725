"""A real gate answered with proof on the test Prefect server: the Prefect UI's resume with the
code, `irp approve --code`, and the signed link's page on the webhook app over real HTTP. Each
names the proven person on the timeline; a wrong or stale code is refused and recorded and the
next form says so; no code or token leaves the person's channel. The system failure here is the
leadership group's own automatic steps (helpers.leadership_only_plan): its run asks activation,
signoff and report acceptance, each answered with a code, and ends."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from sqlmodel import col, select

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import session_scope
from irp.gates import service as gates
from irp.incidents import service as incidents
from irp.settings import get_settings
from models import TimelineEvent
from models.enums import IncidentStatus, IncidentType
from tests.factories import make_intake
from tests.flows.test_gate_form import Background, _form, _paused_at_gate, _state, _until
from tests.identity.helpers import (
    code_asking,
    last_code,
    last_link,
    leadership_only_plan,
    link_page,
    messages_for,
    secrets_sent,
)
from tests.notify.receiver import Receiver
from tests.prefect_ui import resume_as_ui

SIGNOFF = "Is the system back to normal"
ACCEPT = "Accept the report as the groups wrote it"
pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """The CIO's and the CISO's own channels, with codes on and a plan asking only them."""
    with Receiver() as rx:
        monkeypatch.setenv("IRP_GATE_CODES", "true")
        monkeypatch.setenv("IRP_PLAN_FILE", str(leadership_only_plan(tmp_path)))
        monkeypatch.setenv("IRP_PERSON_CIO", rx.url("json", "/cio"))
        monkeypatch.setenv("IRP_PERSON_CISO", rx.url("json", "/ciso"))
        get_settings.cache_clear()
        yield rx


def _events(incident_id: str) -> list[TimelineEvent]:
    with session_scope() as session:
        query = select(TimelineEvent).where(TimelineEvent.incident_id == incident_id)
        return list(session.exec(query.order_by(col(TimelineEvent.id))))


def _codes_for(receiver: Receiver, path: str, count: int) -> None:
    _until(f"{count} code(s) at {path}", lambda: len(messages_for(receiver, path)) >= count)


def _run_logs(run_id: UUID) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    return "\n".join(log.message for log in logs)


def _assert_secrets_kept(
    receiver: Receiver, incident_id: str, run_id: UUID, home: Path, logged: str
) -> None:
    """No code or token in the timeline, report files, artifacts-to-be, run logs, our logs."""
    secrets = secrets_sent(receiver)
    assert secrets
    timeline = json.dumps([[e.message, e.data, e.actor] for e in _events(incident_id)])
    reports = "".join(p.read_text() for p in (home / "reports").rglob("*") if p.is_file())
    for secret in secrets:
        for where, text in (
            ("timeline", timeline),
            ("reports", reports),
            ("run logs", _run_logs(run_id)),
            ("logs", logged),
        ):
            assert secret not in text, where


def _accept_with_code(incident_id: str, receiver: Receiver, path: str, by: str, name: str) -> None:
    """Leadership accepts the report with the code `name` received at `path`: the run ends."""
    _paused_at_gate("report_acceptance")
    code = _until("acceptance codes", lambda: code_asking(receiver, path, ACCEPT, name))
    assert main(["approve", incident_id, "--by", by, "--code", code]) == 0


def test_ui_and_cli_answers_need_the_code_sent_to_the_person(
    prefect_api: str,
    receiver: Receiver,
    background: Background,
    irp_home: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    background.start(
        lambda: FLOWS[IncidentType.system_failure](intake=make_intake(IncidentType.system_failure))
    )
    incident_id, run_id = _paused_at_gate("activation")
    _codes_for(receiver, "/cio", 1)
    schema, description = _form(run_id)
    assert schema["properties"]["approver"]["enum"] == ["cio_on_duty", "ciso_on_duty"]
    assert "code" in schema["properties"]
    assert "--code" in description
    first_code = last_code(receiver, "/cio")

    # (a) the UI's resume: a wrong code resumes the run, which refuses it and asks again
    wrong = "00000000" if first_code != "00000000" else "11111111"
    wrong_answer = {"decision": "approve", "approver": "cio_on_duty", "code": wrong}
    assert resume_as_ui(prefect_api, run_id, wrong_answer) == "ACCEPT"
    _codes_for(receiver, "/cio", 2)  # round 2: fresh codes
    _until("the run paused again", lambda: _state(run_id) == "PAUSED")
    _, description = _form(run_id)
    assert description.startswith("**Last answer by cio_on_duty at ")
    assert "the code or link is wrong" in description.split("\n\n", 1)[0]
    # the round-1 code is stale now: refused by `irp approve --code` (exit 2), recorded
    capsys.readouterr()
    stale = ["approve", incident_id, "--by", "cio_on_duty", "--code", first_code]
    assert main(stale) == 2
    assert "the code or link is wrong" in capsys.readouterr().err
    _codes_for(receiver, "/cio", 3)
    _until("the run paused again", lambda: _state(run_id) == "PAUSED")
    code = last_code(receiver, "/cio")
    answer = {"decision": "approve", "approver": "cio_on_duty", "code": code, "comment": "go"}
    assert resume_as_ui(prefect_api, run_id, answer) == "ACCEPT"

    # (b) signoff from a shell: the CISO's code, given by the CIO, is refused; the CISO's works
    _paused_at_gate("signoff")
    _until("signoff codes", lambda: SIGNOFF in messages_for(receiver, "/ciso")[-1])
    ciso_code = last_code(receiver, "/ciso")
    assert main(["approve", incident_id, "--by", "cio_on_duty", "--code", ciso_code]) == 2
    _until("new signoff codes", lambda: last_code(receiver, "/ciso") != ciso_code)
    ciso_code = last_code(receiver, "/ciso")
    # someone the round does not allow is refused on the spot (recorded, same round); the
    # CISO's answer after it is judged on its own, not by that earlier refusal
    assert main(["approve", incident_id, "--by", "cs_agent_on_duty", "--code", ciso_code]) == 2
    assert main(["approve", incident_id, "--by", "CISO on duty", "--code", ciso_code]) == 0
    _accept_with_code(incident_id, receiver, "/ciso", "ciso_on_duty", "CISO on duty")
    assert background.join() == incident_id

    with session_scope() as session:
        activation = gates.final_decision(session, incident_id, "activation")
        signoff = gates.final_decision(session, incident_id, "signoff")
        refused = [d for d in gates.decisions(session, incident_id) if not d.accepted]
        status = incidents.get_incident(session, incident_id).status
    assert status == IncidentStatus.closed
    assert activation is not None and (activation.approver, activation.approver_role) == (
        "CIO on duty",
        "cio",
    )
    assert signoff is not None and (signoff.approver, signoff.approver_role) == (
        "CISO on duty",
        "ciso",
    )
    assert [(d.gate, d.round) for d in refused][:3] == [
        ("activation", 1),
        ("activation", 2),
        ("signoff", 1),
    ]
    assert [d.gate for d in refused][3:] == ["signoff"]  # on the spot: its round as then read
    events = _events(incident_id)
    proven = [e for e in events if e.kind == "answer_proven"]
    assert [(e.data["subject"], e.actor, e.data["proof"]) for e in proven] == [
        ("gate:activation", "CIO on duty", "code"),
        ("gate:signoff", "CISO on duty", "code"),
        ("gate:report_acceptance", "CISO on duty", "code"),
    ]
    assert f"127.0.0.1:{receiver.port}/cio" in proven[0].message
    decided = [e.message for e in events if e.kind == "gate_decision"]
    assert any("approve -> proceed by CIO on duty (cio): go" in m for m in decided)
    _assert_secrets_kept(receiver, incident_id, run_id, irp_home, caplog.text)


def test_the_signed_link_opens_a_page_whose_post_answers(
    receiver: Receiver,
    background: Background,
    irp_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with link_page(monkeypatch) as base:
        background.start(
            lambda: FLOWS[IncidentType.system_failure](
                intake=make_intake(IncidentType.system_failure, summary="DB down, call 13812345678")
            )
        )
        incident_id, run_id = _paused_at_gate("activation")
        _codes_for(receiver, "/ciso", 1)
        link = last_link(receiver, "/ciso")
        assert link.startswith(f"{base}/answer/")
        token = link.rsplit("/", 1)[-1]
        with httpx.Client(trust_env=False, timeout=60) as client:
            page = client.get(link)
            assert page.status_code == 200
            assert "Activate the plan for this incident" in page.text
            assert "138****5678" in page.text and "13812345678" not in page.text
            assert "Answering as CISO on duty" in page.text
            assert _state(run_id) == "PAUSED"  # a GET never acts
            assert client.post(f"{base}/answer", data={"token": token}).status_code == 422
            forged = client.get(f"{base}/answer/{token[:-3]}xyz")
            assert forged.status_code == 404
            done = client.post(
                f"{base}/answer",
                data={"token": token, "decision": "approve", "comment": "from my phone"},
            )
            assert done.status_code == 200, done.text
            assert "approve by CISO on duty" in done.text
            assert client.get(link).status_code == 410  # good once
            again = client.post(f"{base}/answer", data={"token": token, "decision": "reject"})
            assert again.status_code == 410
        _paused_at_gate("signoff")
        _until("signoff codes", lambda: SIGNOFF in messages_for(receiver, "/cio")[-1])
        code = last_code(receiver, "/cio")
        assert main(["approve", incident_id, "--by", "cio_on_duty", "--code", code]) == 0
        _accept_with_code(incident_id, receiver, "/cio", "cio_on_duty", "CIO on duty")
        assert background.join() == incident_id

    with session_scope() as session:
        activation = gates.final_decision(session, incident_id, "activation")
    assert activation is not None and activation.approver == "CISO on duty"
    assert activation.comment == "from my phone"
    proven = [e for e in _events(incident_id) if e.kind == "answer_proven"]
    assert [(e.actor, e.data["proof"]) for e in proven] == [
        ("CISO on duty", "link"),
        ("CIO on duty", "code"),
        ("CIO on duty", "code"),
    ]
    # the test's own HTTP client (a person's browser) logs the URL it opens; irp's logs must not
    logged = [r.getMessage() for r in caplog.records]
    ours = "\n".join(m for m in logged if not m.startswith(f"HTTP Request: GET {base}/answer/"))
    _assert_secrets_kept(receiver, incident_id, run_id, irp_home, ours)
    assert not re.search(r"/answer/[A-Za-z0-9_-]{20,}", ours)


def test_a_drill_with_people_takes_codes_from_the_drill_channel(
    receiver: Receiver, background: Background
) -> None:
    """A drill's codes go where its messages go (the run's notify_url), not to people."""
    drill_url = receiver.url("json", "/drill")
    background.start(
        lambda: FLOWS[IncidentType.system_failure](
            intake=make_intake(IncidentType.system_failure), drill=True, notify_url=drill_url
        )
    )
    incident_id, _ = _paused_at_gate("activation")
    _until("codes on the drill channel", lambda: drill_code("CISO", receiver))
    assert not messages_for(receiver, "/cio") and not messages_for(receiver, "/ciso")
    code = drill_code("CISO", receiver)
    assert main(["approve", incident_id, "--by", "ciso_on_duty", "--code", code]) == 0
    _paused_at_gate("signoff")
    _until("signoff codes", lambda: SIGNOFF in messages_for(receiver, "/drill")[-1])
    code = drill_code("CIO", receiver)
    assert main(["approve", incident_id, "--by", "cio_on_duty", "--code", code]) == 0
    _accept_with_code(incident_id, receiver, "/drill", "cio_on_duty", "CIO on duty")
    assert background.join() == incident_id
    assert not messages_for(receiver, "/cio") and not messages_for(receiver, "/ciso")
    proven = [e for e in _events(incident_id) if e.kind == "answer_proven"]
    assert [e.actor for e in proven] == ["CISO on duty", "CIO on duty", "CIO on duty"]
    assert all("/drill" in e.data["channel"] for e in proven)


def drill_code(name: str, receiver: Receiver) -> str:
    """The last drill-channel code addressed to `name` (each message names its person)."""
    found = [
        m for m in messages_for(receiver, "/drill") if m.startswith(f"{name} on duty, you may")
    ]
    codes = re.findall(r"Code: (\d{8})", found[-1]) if found else []
    return str(codes[-1]) if codes else ""
