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
from irp.response import actions, custody, manual
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
        task = manual.get_task(session, task_id)  # the report's seconds: opened -> answered
        assert (run.started_at, run.finished_at) == (task.opened_at, task.answered_at)
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


def _cleanup_evidence_task(*, drill: bool = False) -> tuple[str, int]:
    """A breach with no evidence on record and the task its cleanup opens for that."""
    plan = get_plan()
    with session_scope() as session:
        incident = open_incident(
            session, IncidentType.data_breach, make_intake(IncidentType.data_breach), drill=drill
        )
        task = manual.open_task(session, incident.id, custody.cleanup_task(plan, incident), plan)
        return incident.id, int(task.id or 0)


def test_evidence_is_done_only_once_it_is_in_the_chain_of_custody() -> None:
    incident_id, task_id = _cleanup_evidence_task()
    with pytest.raises(TaskRefused, match="--evidence: .* chain of custody: give where it is"):
        _answer(task_id, "done", "sysadmin", "logs copied", evidence="ticket-7")
    digest = "ab" * 32
    _answer(task_id, "done", "sysadmin", "logs copied", evidence=f"locker 4, sha256:{digest}")
    with session_scope() as session:
        kept = custody.items(session, incident_id)
        refused = [e for e in timeline.events(session, incident_id) if e.kind == "task_refused"]
        assert manual.get_task(session, task_id).status is TaskStatus.done
    assert [(e.location, e.sha256, e.collected_by) for e in kept] == [
        ("locker 4", digest, "sysadmin (Sysadmin on call)")
    ]
    assert [e.actor for e in refused] == ["sysadmin"]  # the next form says why


def test_evidence_recorded_from_a_shell_lets_the_task_be_done_with_any_reference() -> None:
    incident_id, task_id = _cleanup_evidence_task()
    argv = ["evidence", "add", incident_id, "--what", "db audit trail", "--where", "locker 9"]
    assert main([*argv, "--by", "sysadmin", "--sha256", "0" * 64]) == 0
    _answer(task_id, "done", "sysadmin", "audit trail kept", evidence="see locker 9")
    with session_scope() as session:
        assert len(custody.items(session, incident_id)) == 1  # not recorded twice


def test_the_drill_policy_preserves_a_drill_manifest_and_never_a_real_incidents() -> None:
    plan = get_plan()
    for drill, expected in ((True, 1), (False, 0)):
        incident_id, task_id = _cleanup_evidence_task(drill=drill)
        with session_scope() as session:
            manual.answer_by_drill_policy(session, plan, manual.get_task(session, task_id))
        with session_scope() as session:
            assert len(custody.items(session, incident_id)) == expected, drill


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        (f"locker 4, sha256:{'AB' * 32}", ("locker 4", "ab" * 32)),
        (f"{'0' * 64} s3://evidence/db.tar", ("s3://evidence/db.tar", "0" * 64)),
        (f"SHA-256 = {'1' * 64}", None),  # no location
        ("locker 4, sha256:abc", None),  # no hash
    ],
)
def test_an_evidence_reference_needs_a_location_and_a_sha256(
    reference: str, parsed: tuple[str, str] | None
) -> None:
    assert custody.parse_reference(reference) == parsed
