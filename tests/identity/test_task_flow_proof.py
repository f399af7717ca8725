"""Proven task answers in a real flow run on the test Prefect server: a drill with people sends
each task's codes to the drill channel (a local receiver); the Prefect UI's form asks for the
person and the code, a wrong code is refused, recorded and named on the next form, and the
codes delivered answer the tasks from the UI and from `irp tasks done --code`."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import session_scope
from irp.response import manual
from irp.settings import get_settings
from models.enums import IncidentType
from models.manual_task import TaskStatus
from tests.factories import make_intake
from tests.flows.test_gate_form import Background, _form, _state
from tests.flows.test_gate_form import _until as _until_60s
from tests.flows.test_manual_tasks import _paused_on_tasks, _tasks
from tests.identity.helpers import messages_for
from tests.identity.test_gate_proof import _assert_secrets_kept, _events
from tests.notify.receiver import Receiver
from tests.prefect_ui import resume_as_ui

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """The drill's channel, with codes on."""
    with Receiver() as rx:
        monkeypatch.setenv("IRP_GATE_CODES", "true")
        get_settings.cache_clear()
        yield rx


def _until(what: str, check: Callable[[], Any]) -> Any:
    """Poll with room for a loaded machine (a flow run's steps, two cores shared)."""
    return _until_60s(what, check, deadline_s=180)


def _task_code(receiver: Receiver, name: str, task_id: int | None) -> str:
    """The last drill-channel code addressed to `name` for this task."""
    found = [
        m
        for m in messages_for(receiver, "/drill")
        if m.startswith(f"{name}, you may answer") and f"task {task_id} (" in m
    ]
    codes = re.findall(r"Code: (\d{8})", found[-1]) if found else []
    return str(codes[-1]) if codes else ""


def _form_when_saved(run_id: object) -> tuple[dict[str, object], str]:
    """The paused run's form once the run has saved it (just after it pauses)."""

    def read() -> tuple[dict[str, object], str] | None:
        try:
            return _form(run_id)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001  (not saved yet: Prefect answers 404)
            return None

    found: tuple[dict[str, object], str] = _until("the tasks form saved", read)
    return found


def test_a_drill_with_people_proves_task_answers_with_codes(
    prefect_api: str,
    receiver: Receiver,
    background: Background,
    irp_home: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    drill_url = receiver.url("json", "/drill")
    background.start(
        lambda: FLOWS[IncidentType.system_failure](
            intake=make_intake(IncidentType.system_failure),
            drill=True,
            auto_approve=True,
            with_people=True,
            notify_url=drill_url,
        )
    )
    first = _until("two tasks open", lambda: len(_tasks()) >= 2 and _tasks())
    restore, inform = first["restore_from_backup"], first["inform_users_of_outage"]
    incident_id = restore.incident_id
    run_id = _paused_on_tasks(incident_id)
    _until(
        "codes on the drill channel", lambda: _task_code(receiver, "Sysadmin on call", restore.id)
    )
    schema, description = _form_when_saved(run_id)
    properties: dict[str, dict[str, object]] = schema["properties"]  # type: ignore[assignment]
    assert "code" in properties
    assert {"sysadmin_on_call", "cs_agent_on_duty"} <= set(properties["by"]["enum"])  # type: ignore[arg-type]
    assert "sysadmin" not in properties["by"]["enum"]  # type: ignore[operator]
    assert "--code" in description and "one-time code" in description

    # the UI's resume with a wrong code: the run refuses it, records it, and asks again saying so
    code = _task_code(receiver, "Sysadmin on call", restore.id)
    wrong = "00000000" if code != "00000000" else "11111111"
    answer = {"task": restore.id, "outcome": "done", "by": "sysadmin_on_call", "note": "snap 42"}
    assert resume_as_ui(prefect_api, run_id, answer | {"code": wrong}) == "ACCEPT"
    _until(
        "the refusal recorded",
        lambda: any(e.kind == "task_refused" for e in _events(incident_id)),
    )
    _until("the run paused again", lambda: _state(run_id) == "PAUSED")
    _, description = _until(
        "the next form",
        lambda: (found := _form_when_saved(run_id))[1].startswith("**Last answer by") and found,
    )
    assert "sysadmin_on_call" in description.split("\n\n", 1)[0]
    assert "the code or link is wrong" in description.split("\n\n", 1)[0]
    with session_scope() as session:
        assert manual.get_task(session, int(restore.id or 0)).status is TaskStatus.open

    assert resume_as_ui(prefect_api, run_id, answer | {"code": code}) == "ACCEPT"
    integrity = _until("the integrity check opens", lambda: _tasks().get("check_data_integrity"))
    _until("its codes", lambda: _task_code(receiver, "IT manager on duty", integrity.id))
    it_code = _task_code(receiver, "IT manager on duty", integrity.id)
    argv = ["tasks", "done", str(integrity.id), "--note", "checksums match", "--evidence", "t-7"]
    assert main([*argv, "--by", "IT manager on duty"]) == 2  # no code
    assert main([*argv, "--by", "IT manager on duty", "--code", it_code]) == 0
    cs_code = _task_code(receiver, "Customer-service agent on duty", inform.id)
    argv = ["tasks", "done", str(inform.id), "--by", "cs_agent_on_duty", "--note", "posted"]
    assert main([*argv, "--code", cs_code]) == 0
    assert background.join() == incident_id

    tasks = _tasks()
    assert {k: (t.status, t.answered_by) for k, t in tasks.items()} == {
        "restore_from_backup": (TaskStatus.done, "sysadmin"),
        "check_data_integrity": (TaskStatus.done, "it_manager"),
        "inform_users_of_outage": (TaskStatus.done, "cs_agent"),
    }
    events = _events(incident_id)
    proven = [(e.data["subject"], e.actor) for e in events if e.kind == "answer_proven"]
    assert proven == [
        (f"task:{restore.id}", "Sysadmin on call"),
        (f"task:{integrity.id}", "IT manager on duty"),
        (f"task:{inform.id}", "Customer-service agent on duty"),
    ]
    refused = [e.data["reason"] for e in events if e.kind == "task_refused"]
    assert len(refused) == 2 and "--code" in refused[1]
    _assert_secrets_kept(receiver, incident_id, run_id, irp_home, caplog.text)
