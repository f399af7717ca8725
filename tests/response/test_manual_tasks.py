"""The rules of a manual task: opened once, answered once by a role of its owner group with a
note (and evidence when needed), every step on the hash-chained timeline, overdue claimed once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from irp.cli.main import main
from irp.db import session_scope
from irp.errors import TaskRefused
from irp.incidents import timeline
from irp.incidents.service import open_incident
from irp.plan.loader import get_plan
from irp.response import actions, manual
from models.base import utcnow
from models.enums import ActionStatus, IncidentType
from models.manual_task import TaskStatus
from tests.factories import make_intake


def _breach_tasks(*keys: str) -> tuple[str, dict[str, int]]:
    plan = get_plan()
    specs = {a.key: a for a in plan.incident_type(IncidentType.data_breach).playbook}
    with session_scope() as session:
        incident = open_incident(
            session, IncidentType.data_breach, make_intake(IncidentType.data_breach)
        )
        ids = {k: manual.open_task(session, incident.id, specs[k], plan).id for k in keys}
    return incident.id, {k: int(v) for k, v in ids.items() if v is not None}


def _answer(task_id: int, outcome: Any, by: str, note: str, evidence: str | None = None) -> None:
    with session_scope() as session:
        manual.answer_task(
            session, get_plan(), task_id, manual.TaskAnswer(outcome, by, note, evidence)
        )


def test_opening_twice_keeps_one_task() -> None:
    incident_id, ids = _breach_tasks("legal_assessment")
    plan = get_plan()
    spec = next(a for a in plan.incident_type(IncidentType.data_breach).playbook if a.manual)
    with session_scope() as session:
        again = manual.open_task(session, incident_id, spec, plan)
        first = manual.open_task(session, incident_id, spec, plan)
        assert again.id == first.id
        assert len(manual.list_tasks(session, incident_id)) == 2


def test_an_owner_answers_once_and_the_timeline_names_them() -> None:
    incident_id, ids = _breach_tasks("legal_assessment")
    task_id = ids["legal_assessment"]
    _answer(task_id, "done", "legal_counsel", "PIPL art. 57 applies; CAC report due")
    with pytest.raises(TaskRefused, match="answered already"):
        _answer(task_id, "failed", "legal_manager", "second opinion")
    with session_scope() as session:
        task = manual.get_task(session, task_id)
        assert (task.status, task.answered_by) == (TaskStatus.done, "legal_counsel")
        events = [e for e in timeline.events(session, incident_id) if e.kind.startswith("task_")]
        assert [e.kind for e in events] == ["task_opened", "task_answered"]
        answered = events[-1]
        assert answered.actor == "legal_counsel"
        assert "done by legal_counsel (Legal counsel on duty): PIPL art. 57" in answered.message
        run = actions.get_run(session, incident_id, "legal_assessment")
        assert run is not None and (run.status, run.executor) == (ActionStatus.succeeded, "manual")
        assert timeline.verify(session, incident_id).intact


def test_wrong_role_missing_note_and_missing_evidence_are_refused() -> None:
    incident_id, ids = _breach_tasks("public_statement", "patch_vulnerability")
    with pytest.raises(
        TaskRefused, match=r"--by: 'cio' may not answer .* \(owners: head_marketing\)"
    ):
        _answer(ids["public_statement"], "done", "cio", "published")
    with pytest.raises(TaskRefused, match="--note"):
        _answer(ids["public_statement"], "done", "head_marketing", "  ")
    with pytest.raises(TaskRefused, match="--evidence: .* needs an evidence reference"):
        _answer(ids["patch_vulnerability"], "done", "sysadmin", "patched")
    _answer(ids["patch_vulnerability"], "not_applicable", "sysadmin", "endpoint retired instead")
    with session_scope() as session:
        kinds = [e.kind for e in timeline.events(session, incident_id)]
        assert kinds.count("task_refused") == 1  # a wrong role is on record
        task = manual.get_task(session, ids["public_statement"])
        assert task.status is TaskStatus.open


def test_overdue_tasks_are_reminded_once_and_escalate_to_the_leader() -> None:
    from deployments.deadlines import remind_overdue_tasks

    incident_id, ids = _breach_tasks("review_regulator_notices", "public_statement")
    later = utcnow() + timedelta(hours=2)  # past the review's 1 h, not the statement's 24 h
    with session_scope() as session:
        claimed = manual.claim_overdue(session, later, "INC-NONE")
        assert claimed == []  # another incident's tasks are not claimed
    assert remind_overdue_tasks(later) == 1
    assert remind_overdue_tasks(later) == 0  # claimed once: the waiting flow will not repeat it
    with session_scope() as session:
        events = timeline.events(session, incident_id)
    overdue = [e for e in events if e.kind == "task_overdue"]
    assert len(overdue) == 1 and overdue[0].data["escalated_to"] == "legal_manager"
    assert set(overdue[0].data["owners"]) == {"legal_manager", "legal_counsel"}
    notified = [e for e in events if e.kind == "notified" and e.data.get("event") == "task_overdue"]
    assert len(notified) == 1


def test_cli_lists_and_answers_and_refuses_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    incident_id, ids = _breach_tasks("legal_assessment")
    task = str(ids["legal_assessment"])
    assert main(["tasks", "done", task, "--by", "cs_agent", "--note", "x"]) == 2
    assert "--by: 'cs_agent' may not answer" in capsys.readouterr().err
    assert main(["tasks", "done", "999", "--by", "cs_agent", "--note", "x"]) == 1
    assert main(["tasks", "skip", task, "--by", "legal_manager", "--note", "no duty here"]) == 0
    assert (
        f"task {task} ({incident_id}): not_applicable by legal_manager" in capsys.readouterr().out
    )
    assert main(["tasks", "list", "--incident", incident_id, "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["status"], r["answered_by"]) for r in rows] == [
        ("legal_assessment", "not_applicable", "legal_manager")
    ]
