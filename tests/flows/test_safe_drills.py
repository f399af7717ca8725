"""Drills never touch production (issue 11): `http` and `command` steps of a drill are described
on the timeline, not run, unless the plan marks them drill-safe; real incidents run them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from flows.registry import FLOWS
from irp.db import session_scope
from irp.incidents import timeline
from irp.response import actions
from irp.settings import get_settings
from models import Incident
from models.enums import ActionStatus, IncidentType
from tests.factories import fast_retries, make_report, plan_data, write_plan
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.usefixtures("prefect_api")

CIDR = "203.0.113.0/24"
TOKEN = "s3cr3t-token-value"


@pytest.fixture
def firewall(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A firewall API on 127.0.0.1 that records what it receives; its token in the environment."""
    monkeypatch.setenv("SD_CIDR", CIDR)
    monkeypatch.setenv("SD_TOKEN", TOKEN)
    with Receiver() as receiver:
        yield receiver


def live_plan(folder: Path, firewall: Receiver, marker: Path, *, drill_safe: bool = False) -> Path:
    """system_failure with an http diagnosis and a command fail-over undone over http."""
    data = fast_retries(plan_data())
    playbook = data["incident_types"]["system_failure"]["playbook"]
    by_key = {a["key"]: a for a in playbook}
    by_key["diagnose_failure"].update(
        executor="http",
        params={
            "url": firewall.url("http", "/diagnose?api_key=literal-key&zone=eu"),
            "headers": {"Authorization": "Bearer ${SD_TOKEN}"},
            "json": {"cidr": "${SD_CIDR}", "password": "literal-password"},
        },
        drill_safe=drill_safe,
    )
    by_key["fail_over"].update(
        executor="command",
        params={"argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]},
        drill_safe=drill_safe,
        undo={
            "executor": "http",
            "params": {"url": firewall.url("http", "/fail-back")},
            "drill_safe": drill_safe,
        },
    )
    return write_plan(folder, data)


def _run(plan: Path, *, drill: bool) -> str:
    return FLOWS[IncidentType.system_failure](
        report=make_report(IncidentType.system_failure),
        drill=drill,
        auto_approve=True,
        plan_file=str(plan),
    )


def _events(incident_id: str) -> list[tuple[str, str]]:
    with session_scope() as session:
        return [(e.kind, e.message) for e in timeline.events(session, incident_id)]


def _status(incident_id: str) -> dict[str, tuple[ActionStatus, int, str | None]]:
    with session_scope() as session:
        return {
            r.action: (r.status, r.attempts, r.undo_status)
            for r in actions.runs(session, incident_id)
        }


def test_a_drill_records_what_http_and_command_would_do_and_does_nothing(
    tmp_path: Path, firewall: Receiver
) -> None:
    marker = tmp_path / "failed-over"
    incident_id = _run(live_plan(tmp_path, firewall, marker), drill=True)

    assert firewall.requests == []
    assert not marker.exists()
    status = _status(incident_id)
    assert status["diagnose_failure"] == (ActionStatus.not_run, 0, None)
    assert status["fail_over"] == (ActionStatus.not_run, 0, "not_run")
    assert status["repair_component"][0] == ActionStatus.succeeded  # simulate still rehearses

    events = _events(incident_id)
    held = dict((m.split(":", 1)[0], m) for k, m in events if k == "action_not_run_drill")
    diagnose = held["Diagnose the failure"]
    assert "not run (drill): would POST http://127.0.0.1:" in diagnose
    assert "/diagnose?api_key=***&zone=eu" in diagnose
    assert '"cidr": "${SD_CIDR}"' in diagnose and CIDR not in diagnose
    assert '"password": "***"' in diagnose and "literal-password" not in diagnose
    assert "(headers: Authorization)" in diagnose and TOKEN not in diagnose
    assert "would run" in held["Fail over to standby capacity"]
    undo = [m for k, m in events if k == "containment_undo_not_run_drill"]
    assert len(undo) == 1 and "its undo would POST" in undo[0] and "/fail-back" in undo[0]
    done = [m for k, m in events if k in ("action_succeeded", "containment_undone")]
    assert not any(m.startswith(("Diagnose", "Fail over")) for m in done)

    report = (get_settings().reports_dir / incident_id / "report.md").read_text(encoding="utf-8")
    assert "not run (drill): would POST" in report and TOKEN not in report
    measures = report.split("## 2. Measures taken", 1)[1].split("\n## ", 1)[0]
    diagnose_row = next(line for line in measures.splitlines() if "diagnose_failure" in line)
    assert "not_run" in diagnose_row and "succeeded" not in diagnose_row


def test_a_drill_runs_steps_the_plan_marks_drill_safe(tmp_path: Path, firewall: Receiver) -> None:
    marker = tmp_path / "failed-over"
    incident_id = _run(live_plan(tmp_path, firewall, marker, drill_safe=True), drill=True)

    assert [(r.method, r.path.split("?")[0]) for r in firewall.requests] == [
        ("POST", "/diagnose"),
        ("POST", "/fail-back"),
    ]
    assert firewall.requests[0].json == {"cidr": CIDR, "password": "literal-password"}
    assert marker.exists()
    status = _status(incident_id)
    assert status["diagnose_failure"] == (ActionStatus.succeeded, 1, None)
    assert status["fail_over"] == (ActionStatus.undone, 1, "undone")
    kinds = {k for k, _ in _events(incident_id)}
    assert not kinds & {"action_not_run_drill", "containment_undo_not_run_drill"}


def test_a_real_incident_runs_http_and_command_with_variables_filled(
    tmp_path: Path, firewall: Receiver
) -> None:
    marker = tmp_path / "failed-over"
    incident_id = _run(live_plan(tmp_path, firewall, marker), drill=False)

    assert [r.path.split("?")[0] for r in firewall.requests] == ["/diagnose", "/fail-back"]
    sent = firewall.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.json == {"cidr": CIDR, "password": "literal-password"}
    assert marker.exists()
    status = _status(incident_id)
    assert status["diagnose_failure"][0] == ActionStatus.succeeded
    assert status["fail_over"][0] == ActionStatus.undone


def test_an_unset_variable_fails_the_attempt_naming_it(
    tmp_path: Path, firewall: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SD_TOKEN")
    data = fast_retries(plan_data())
    for action in data["incident_types"]["system_failure"]["playbook"]:
        action["retries"] = 0
    diagnose = data["incident_types"]["system_failure"]["playbook"][0]
    diagnose.update(
        executor="http",
        params={"url": firewall.url("http", "/x"), "headers": {"X-Token": "${SD_TOKEN}"}},
    )
    state = FLOWS[IncidentType.system_failure](
        report=make_report(IncidentType.system_failure),
        auto_approve=True,
        plan_file=str(write_plan(tmp_path, data)),
        return_state=True,
    )
    assert state.is_failed()
    assert firewall.requests == []
    with session_scope() as session:
        incident_id = session.exec(select(Incident.id)).one()
        run = actions.get_run(session, incident_id, "diagnose_failure")
    assert run is not None and run.status == ActionStatus.failed
    assert run.last_error == "environment variable SD_TOKEN is not set"
