"""Work for people in a real flow run (issue 11): tasks whose `after` are met open together,
are answered from the CLI and from the Prefect UI's form (POST resume with run_input), and the
next stage starts only when all are answered; the drill policy answers them in a drill."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import session_scope
from irp.errors import ActionFailed
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.response import custody, manual
from models import ManualTask
from models.enums import IncidentStatus, IncidentType
from models.manual_task import TaskStatus
from tests.factories import automatic_evidence_step, make_intake, plan_data, write_plan
from tests.flows.answerer import BREACH_GROUPS, Answer, Answerer, closing
from tests.prefect_ui import resume_as_ui

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


def _until(what: str, check: Callable[[], Any], deadline_s: float = 90) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _tasks() -> dict[str, ManualTask]:
    with session_scope() as session:
        found = manual.list_tasks(session)
        for task in found:
            session.expunge(task)
    return {t.key: t for t in found}


def _paused_on_tasks(incident_id: str) -> UUID:
    """The incident's run, once it is paused on the tasks form."""
    from prefect.client.orchestration import get_client

    def check() -> UUID | None:
        with session_scope() as session:
            run_id = incidents.get_incident(session, incident_id).flow_run_id
        if run_id is None:
            return None
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(run_id)).state
        key = state.state_details.pause_key if state is not None else None
        paused = state is not None and state.is_paused() and (key or "").startswith("tasks-")
        return UUID(run_id) if paused else None

    found: UUID = _until("the run paused on its tasks", check)
    return found


def test_people_answer_parallel_tasks_from_the_cli_and_the_ui(prefect_api: str) -> None:
    result: dict[str, str] = {}

    def run() -> None:
        try:
            FLOWS[IncidentType.system_failure](intake=make_intake(IncidentType.system_failure))
        except ActionFailed as exc:  # a task answered failed escalates like a failed action
            result["failed"] = str(exc)

    with Answerer(
        [Answer("activation", "approve", "cio")], deadline_s=120, tasks=False
    ) as answerer:
        thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
        thread.start()
        first = _until("two tasks open", lambda: len(_tasks()) >= 2 and _tasks())
        # both tasks without `after` are open before anyone answered; the dependent one is not
        assert set(first) == {"restore_from_backup", "inform_users_of_outage"}
        assert all(t.status is TaskStatus.open for t in first.values())
        incident_id = first["restore_from_backup"].incident_id

        restore = str(first["restore_from_backup"].id)
        assert main(["tasks", "done", restore, "--by", "sysadmin", "--note", "snapshot 42"]) == 0
        integrity = _until(
            "the integrity check opens", lambda: _tasks().get("check_data_integrity")
        )
        run_id = _paused_on_tasks(incident_id)
        answer = {
            "task": integrity.id,
            "outcome": "done",
            "by": "security_engineer",
            "note": "checksums match",
            "evidence": "ticket-7",
        }
        # not an owner: the form refuses
        assert resume_as_ui(prefect_api, run_id, answer | {"by": "cio"}) == "REJECT"
        assert resume_as_ui(prefect_api, run_id, answer) == "ACCEPT"
        _until(
            "the UI answer recorded",
            lambda: _tasks()["check_data_integrity"].status.value == "done",
        )
        with session_scope() as session:
            assert incidents.get_incident(session, incident_id).contained_at is None
        inform = str(first["inform_users_of_outage"].id)
        assert (
            main(["tasks", "fail", inform, "--by", "cs_agent", "--note", "status page down"]) == 0
        )
        thread.join(timeout=120)
    assert answerer.exit_codes == [0]
    assert "1 action(s) failed: Keep users informed of the outage" in result["failed"]

    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        events = timeline.events(session, incident.id)
    answered = [e for e in events if e.kind == "task_answered"]
    assert [(e.actor, e.data["outcome"]) for e in answered] == [
        ("sysadmin", "done"),
        ("security_engineer", "done"),
        ("cs_agent", "failed"),
    ]
    escalation = next(e for e in events if e.kind == "escalation")
    assert "Keep users informed of the outage" in escalation.message
    assert incident.status is not IncidentStatus.closed


def test_a_breach_with_no_evidence_waits_at_cleanup_for_a_person_to_preserve_it(
    tmp_path: Path,
) -> None:
    data = plan_data()
    automatic_evidence_step(data)  # simulated in a real incident: no evidence on record
    plan = write_plan(tmp_path, data)
    answers = [
        Answer("activation", "approve", "cio"),
        Answer("user_notice", "approve", "legal_counsel"),
        *closing(BREACH_GROUPS, Answer("signoff", "approve", "ciso")),
    ]
    with Answerer(answers, deadline_s=240) as answerer:
        incident_id = FLOWS[IncidentType.data_breach](
            intake=make_intake(IncidentType.data_breach), plan_file=str(plan)
        )
    assert answerer.errors == []

    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        task = manual.get_by_key(session, incident_id, custody.CLEANUP_TASK)
        kept = custody.items(session, incident_id)
        kinds = [e.kind for e in timeline.events(session, incident_id)]
    assert incident.status is IncidentStatus.closed
    assert task is not None and task.status is TaskStatus.done
    assert task.group == "technical"  # the group of the playbook's evidence step
    # the person's answer put the evidence in the chain of custody, with who kept it
    assert [(e.location, e.collected_by.split(" ")[0]) for e in kept] == [
        (f"evidence locker {task.id}", task.answered_by)
    ]
    # nothing was undone before the evidence was on record
    assert kinds.index("evidence_preserved") < kinds.index("evidence_checked")
    assert kinds.index("evidence_checked") < kinds.index("containment_kept")


def test_a_drill_policy_answers_the_tasks_and_says_so() -> None:
    incident_id = FLOWS[IncidentType.data_breach](
        intake=make_intake(IncidentType.data_breach), drill=True, auto_approve=True
    )
    with session_scope() as session:
        tasks = manual.list_tasks(session, incident_id)
        events = timeline.events(session, incident_id)
        incident = incidents.get_incident(session, incident_id)
    assert incident.status is IncidentStatus.closed
    assert tasks and {(t.status, t.answered_by, t.answered_role) for t in tasks} == {
        (TaskStatus.done, "drill-policy", None)
    }
    answered = [e for e in events if e.kind == "task_answered"]
    assert len(answered) == len(tasks)
    assert all("by drill-policy: answered by the drill policy" in e.message for e in answered)


def test_a_drill_with_people_sends_tasks_to_owners_and_scores_their_answers() -> None:
    from models import DrillScore

    result: dict[str, str] = {}

    def run() -> None:
        result["id"] = FLOWS[IncidentType.system_failure](
            intake=make_intake(IncidentType.system_failure),
            drill=True,
            auto_approve=True,
            with_people=True,
        )

    thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
    thread.start()
    owners = {"restore_from_backup": "sysadmin", "check_data_integrity": "it_manager"}
    owners["inform_users_of_outage"] = "cs_manager"
    answered: set[str] = set()
    while answered != set(owners):
        ready = _until(
            "a task to answer",
            lambda: [
                t
                for t in _tasks().values()
                if t.key not in answered and t.status is TaskStatus.open
            ],
        )
        for task in ready:
            argv = ["tasks", "done", str(task.id), "--by", owners[task.key], "--note", "done"]
            assert main([*argv, "--evidence", "ticket-1"]) == 0
            answered.add(task.key)
    thread.join(timeout=120)
    with session_scope() as session:
        from sqlmodel import select

        scores = session.exec(
            select(DrillScore).where(
                DrillScore.incident_id == result["id"], DrillScore.kind == "task"
            )
        ).all()
    assert {(s.name, s.note) for s in scores} == {
        (key, f"done by {who}") for key, who in owners.items()
    }
    assert all(s.result == "met" and s.actual_s is not None for s in scores)
