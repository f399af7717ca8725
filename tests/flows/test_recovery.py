"""No stranded incident: a served run that dies at a gate is started again where its incident
stands, and asks the open gate again without a new announcement. A real Prefect server, the
incident deployments served by a subprocess that is SIGKILLed with its flow-run processes
(a lost host), notifications delivered to a local receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlmodel import select

from deployments import recovery as served_recovery
from deployments.dispatch import dispatch_one, start_deployment
from irp.cli.main import main
from irp.db import session_scope
from irp.gates import service as gates
from irp.incidents import run_process, timeline
from irp.incidents import service as incidents
from irp.response import custody, manual
from irp.settings import get_settings
from models import Notification
from models.base import utcnow
from models.enums import IncidentStatus, IncidentType
from tests.factories import make_intake
from tests.flows.answerer import BREACH_GROUPS, Answer, Answerer, closing
from tests.notify.helpers import routed_plan, sent_queued
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.usefixtures("prefect_api")
ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_TIMEOUT_S = 45  # the automation's window here; heartbeats come every 30 s
BREACH_GATES = [
    Answer("activation", "approve", "cio", comment="activate"),
    Answer("user_notice", "approve", "legal_counsel"),
    *closing(BREACH_GROUPS, Answer("signoff", "approve", "ciso")),
]
MAY_REPEAT = {"notified", "gate_reasked", "run_recovered"}
"""Events that say a new thing each time with the same words (one delivery round, one take-over)."""
ONCE = ("report_received", "plan_activated", "contained", "closed", "report_ready")


def _until(what: str, check: Callable[[], Any], deadline_s: float = 120) -> Any:
    """Poll `check` until it returns something truthy."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """Every group and role notified at a local receiver, through the plan the stack uses."""
    with Receiver() as rx:
        plan_file, _ = routed_plan(tmp_path, rx)
        monkeypatch.setenv("IRP_PLAN_FILE", str(plan_file))
        get_settings.cache_clear()
        yield rx


@pytest.fixture(scope="module", autouse=True)
def _no_crash_automation_after() -> Iterator[None]:
    """The automation these tests create (a short window) does not outlive them."""
    yield
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for automation in client.read_automations_by_name(served_recovery.AUTOMATION):
            client.delete_automation(automation.id)


@contextmanager
def _serving(
    tmp_path: Path,
    name: str,
    *,
    watch: bool,
    suspend_after_s: float,
    heartbeat_timeout_s: float = HEARTBEAT_TIMEOUT_S,
) -> Iterator[subprocess.Popen[str]]:
    """The incident deployments served in their own process group: `python -m
    deployments.serve` as `irp up` runs it (with the recovery watch), or without the watch."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "IRP_GATE_SUSPEND_AFTER_S": str(suspend_after_s),
        "IRP_RUN_HEARTBEAT_TIMEOUT_S": str(heartbeat_timeout_s),
    }
    module = "deployments.serve" if watch else "tests.flows.serve_incidents"
    log = (tmp_path / f"serve-{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        log.close()


def _kill(serving: subprocess.Popen[str]) -> None:
    """SIGKILL serve and the flow-run processes it started (its process group): a lost host."""
    os.killpg(serving.pid, signal.SIGKILL)
    serving.wait(timeout=30)


def _open_from_alert() -> str:
    with session_scope() as session:
        incident = incidents.open_incident(
            session,
            IncidentType.data_breach,
            make_intake(IncidentType.data_breach),
            status=IncidentStatus.pending_dispatch,
        )
        # A real breach's cleanup waits for evidence a person records (`irp evidence add`).
        custody.add_evidence(
            session,
            incident,
            what="web server logs",
            location="evidence locker 1",
            sha256="0" * 64,
            collected_by="security_engineer",
        )
        return incident.id


def _dispatch(incident_id: str) -> str:
    """Start the incident's run on its deployment as the webhook's dispatcher does."""
    from prefect.exceptions import ObjectNotFound

    def started() -> bool:
        try:
            dispatch_one(incident_id, start_deployment)
        except ObjectNotFound:  # serve has not registered the deployment yet
            return False
        return True

    _until("the deployment to be served", started)
    return _run_of(incident_id)


def _run_of(incident_id: str) -> str:
    with session_scope() as session:
        run_id = incidents.get_incident(session, incident_id).flow_run_id
    assert run_id is not None
    return run_id


def _state(run_id: str) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(run_id)).state


def _as_if_run_on_a_lost_host(run_id: str) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        labels = dict(client.read_flow_run(UUID(run_id)).labels)
        assert labels.get(run_process.HOST)  # the run said which process drove it
        client.update_flow_run_labels(UUID(run_id), {run_process.HOST: "lost-host"})


def _stage_started(incident_id: str, stage: str) -> bool:
    with session_scope() as session:
        events = timeline.events(session, incident_id)
    return any(e.kind == "stage_started" and e.stage == stage for e in events)


def _paused_in_process(run_id: str) -> bool:
    state = _state(run_id)
    return bool(state and state.is_paused() and not state.state_details.pause_reschedule)


def _kinds(incident_id: str) -> list[str]:
    with session_scope() as session:
        return [e.kind for e in timeline.events(session, incident_id)]


def _sent(incident_id: str) -> Counter[str]:
    """Notification rows by event: what people were told."""
    with session_scope() as session:
        rows = session.exec(select(Notification).where(Notification.incident_id == incident_id))
        return Counter(r.event for r in rows)


def _status(incident_id: str) -> IncidentStatus:
    with session_scope() as session:
        return incidents.get_incident(session, incident_id).status


def _wait_for_automation() -> None:
    from prefect.client.orchestration import get_client

    def exists() -> bool:
        with get_client(sync_client=True) as client:
            return bool(client.read_automations_by_name(served_recovery.AUTOMATION))

    _until("serve to create the crash automation", exists, 60)


def _assert_nothing_repeated(incident_id: str) -> None:
    """The timeline and the notifications say each thing once, whichever runs said it."""
    with session_scope() as session:
        events = timeline.events(session, incident_id)
        rows = list(
            session.exec(select(Notification).where(Notification.incident_id == incident_id))
        )
    kinds = Counter(e.kind for e in events)
    assert kinds["reported"] == kinds["graded"] == 1, kinds
    started = Counter(e.stage for e in events if e.kind == "stage_started")
    assert set(started.values()) == {1}, started
    asked = Counter((e.data["gate"], e.data["round"]) for e in events if e.kind == "gate_waiting")
    assert set(asked.values()) == {1}, asked
    told = Counter((r.event, r.audience, r.target) for r in rows if r.event in ONCE)
    assert told and set(told.values()) == {1}, told
    said = Counter((e.kind, e.message) for e in events if e.kind not in MAY_REPEAT)
    assert [event for event, count in said.items() if count > 1] == []


@pytest.mark.slow
def test_a_run_killed_at_a_gate_is_started_again_and_asks_the_gate_without_announcing(
    tmp_path: Path, receiver: Receiver
) -> None:
    incident_id = _open_from_alert()
    # Heartbeats would take an hour to count as stopped: only this host's own knowledge that
    # the run's process is gone (its labels) can find it dead in time.
    slow_heartbeat = {"watch": True, "suspend_after_s": 600, "heartbeat_timeout_s": 3600}
    with _serving(tmp_path, "first", **slow_heartbeat) as first:
        old_run = _dispatch(incident_id)
        _until(
            "the run to wait in its process at the activation gate",
            lambda: _paused_in_process(old_run) and "gate_waiting" in _kinds(incident_id),
        )
        sent_queued(incident_id)
        told, delivered = _sent(incident_id), len(receiver.requests)
        _kill(first)
    assert _state(old_run).is_paused()  # Prefect cannot know yet that nobody will resume it

    with _serving(tmp_path, "second", **slow_heartbeat):
        new_run = _until(
            "the watch to start a new run",
            lambda: (run := _run_of(incident_id)) != old_run and run,
        )
        crashed = _state(old_run)
        assert crashed.is_crashed() and crashed.message == served_recovery.PROCESS_GONE
        _until(
            "the new run to ask the open gate again",
            lambda: "gate_reasked" in _kinds(incident_id) and _paused_in_process(new_run),
        )
        assert _sent(incident_id) == told and len(receiver.requests) == delivered
        with Answerer(BREACH_GATES, deadline_s=180) as answerer:
            _until("the incident to close", lambda: _status(incident_id) == "closed", 240)
    assert answerer.errors == [] and answerer.exit_codes == [0] * len(BREACH_GATES)
    with session_scope() as session:
        recovered = [e for e in timeline.events(session, incident_id) if e.kind == "run_recovered"]
    assert len(recovered) == 1 and recovered[0].actor == "watch"
    assert recovered[0].data == {
        "old_flow_run_id": old_run,
        "old_state": "Crashed",
        "flow_run_id": new_run,
        "by": "watch",
    }
    _assert_nothing_repeated(incident_id)


@pytest.mark.slow
def test_an_answer_given_to_a_dead_run_is_the_decision_of_the_run_that_takes_over(
    tmp_path: Path, receiver: Receiver
) -> None:
    incident_id = _open_from_alert()
    with _serving(tmp_path, "first", watch=True, suspend_after_s=600) as first:
        _wait_for_automation()
        old_run = _dispatch(incident_id)
        _until("the run to wait in its process", lambda: _paused_in_process(old_run))
        _kill(first)
    _as_if_run_on_a_lost_host(old_run)  # so only the heartbeat automation can find it dead
    # Prefect still shows the pause: the person's answer resumes a run nobody executes.
    assert main(["approve", incident_id, "--by", "cio", "--comment", "go"]) == 0
    with _serving(tmp_path, "second", watch=True, suspend_after_s=600):
        _until(
            "the watch to start a new run",
            lambda: _run_of(incident_id) != old_run,
            deadline_s=HEARTBEAT_TIMEOUT_S + 150,
        )
        with Answerer(BREACH_GATES[1:], deadline_s=300) as answerer:
            _until("the incident to close", lambda: _status(incident_id) == "closed", 360)
    assert answerer.errors == [] and answerer.exit_codes == [0] * (len(BREACH_GATES) - 1)
    assert "No heartbeat" in (_state(old_run).message or "")
    with session_scope() as session:
        decision = gates.final_decision(session, incident_id, "activation")
    assert decision is not None and (decision.approver_role, decision.comment) == ("cio", "go")
    kinds = _kinds(incident_id)
    assert kinds.count("run_recovered") == 1 and "gate_reasked" not in kinds
    _assert_nothing_repeated(incident_id)


@pytest.mark.slow
def test_a_run_whose_process_died_before_it_ran_is_started_again(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A host lost after its runner took a run (Pending) and before the run's process marked it
    Running (found killing serve on the live stack: the run stayed Submitting for good). No
    process sent a heartbeat, so none could stop: the automation's watch opens at Pending."""
    from prefect.client.orchestration import get_client
    from prefect.states import Pending

    incident_id = _open_from_alert()
    with _serving(tmp_path, "first", watch=True, suspend_after_s=0) as first:
        _wait_for_automation()
        old_run = _dispatch(incident_id)
        _until("the run to suspend at the gate", lambda: _state(old_run).name == "Suspended")
        _kill(first)
    # Answered within its last heartbeat's window (the live case): resumed, nothing serves it.
    assert main(["approve", incident_id, "--by", "cio", "--comment", "go"]) == 0
    with get_client(sync_client=True) as client:  # a runner takes it, and its host is lost
        client.set_flow_run_state(UUID(old_run), Pending())
    with _serving(tmp_path, "second", watch=True, suspend_after_s=600):
        _until(
            "the watch to start a new run",
            lambda: _run_of(incident_id) != old_run,
            deadline_s=HEARTBEAT_TIMEOUT_S + 150,
        )
        _until("the response stage", lambda: _stage_started(incident_id, "response"))
    state = _state(old_run)
    assert state.is_crashed() and "No heartbeat" in (state.message or "")
    with session_scope() as session:
        decision = gates.final_decision(session, incident_id, "activation")
    assert decision is not None and (decision.approver_role, decision.comment) == ("cio", "go")
    assert _kinds(incident_id).count("run_recovered") == 1
    _assert_nothing_repeated(incident_id)


@pytest.mark.slow
def test_a_run_failed_as_paused_and_never_resumed_is_recovered_by_hand(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = _open_from_alert()
    with _serving(tmp_path, "first", watch=False, suspend_after_s=20) as first:
        old_run = _dispatch(incident_id)
        _until("the run to wait in its process", lambda: _paused_in_process(old_run))
        pause_ends = _state(old_run).state_details.pause_timeout
        told = _sent(incident_id)
        _kill(first)
    _until("its in-process pause to run out", lambda: utcnow() > pause_ends, 60)

    capsys.readouterr()
    assert main(["approve", incident_id, "--by", "cio"]) == 1
    assert "irp incidents recover" in capsys.readouterr().err
    state = _state(old_run)
    assert state.is_failed() and "never resumed" in (state.message or "")
    assert main(["incidents", "list"]) == 0
    listed = next(line for line in capsys.readouterr().out.splitlines() if incident_id in line)
    assert listed.rstrip().endswith("NOT ALIVE: Failed")

    with _serving(tmp_path, "second", watch=False, suspend_after_s=600):
        assert main(["incidents", "recover", incident_id]) == 0
        out = capsys.readouterr().out
        new_run = _run_of(incident_id)
        assert f"run {old_run} Failed (The flow was " in out and "never resumed.)" in out
        assert f"started run {new_run}" in out
        assert main(["incidents", "recover", incident_id]) == 0  # again: nothing more to do
        assert "alive, nothing to do" in capsys.readouterr().out
        _until(
            "the new run to ask the open gate again",
            lambda: "gate_reasked" in _kinds(incident_id) and _paused_in_process(new_run),
        )
        assert _sent(incident_id) == told
        with Answerer(BREACH_GATES, deadline_s=180) as answerer:
            _until("the incident to close", lambda: _status(incident_id) == "closed", 240)
    assert answerer.errors == [] and answerer.exit_codes == [0] * len(BREACH_GATES)
    _assert_nothing_repeated(incident_id)


@pytest.mark.slow
def test_runs_resumed_from_suspension_record_and_announce_nothing_twice(
    tmp_path: Path, receiver: Receiver
) -> None:
    incident_id = _open_from_alert()
    with _serving(tmp_path, "suspending", watch=False, suspend_after_s=0):
        run_id = _dispatch(incident_id)
        with Answerer(BREACH_GATES, deadline_s=240) as answerer:
            _until("the incident to close", lambda: _status(incident_id) == "closed", 300)
    assert answerer.errors == [] and answerer.exit_codes == [0] * len(BREACH_GATES)
    assert _run_of(incident_id) == run_id  # one run, resumed from the top at each answer
    # the manual tasks, answered by `irp tasks done` while the run was suspended
    assert answerer.task_exit_codes and set(answerer.task_exit_codes) == {0}
    with session_scope() as session:
        tasks = manual.list_tasks(session, incident_id)
    assert tasks and all(t.status.value == "done" and t.answered_role for t in tasks)
    assert _kinds(incident_id).count("flow_run_attached") == 0  # the dispatcher attached it
    _assert_nothing_repeated(incident_id)


def test_two_recoverers_at_once_start_one_run_for_a_vanished_one() -> None:
    """Prefect lost the run (a wiped server): recovery starts one on the type's deployment,
    however many recoverers saw it at once."""
    from prefect.client.orchestration import get_client

    from deployments.serve import incident_deployments, module_entrypoint

    breach = next(d for d in incident_deployments() if d.flow_name == "data-breach")
    module_entrypoint(breach).apply()  # registered, not served: the new run waits Scheduled
    lost = "3b0c7a52-0000-4000-8000-000000000000"
    with session_scope() as session:
        incident = incidents.open_incident(
            session, IncidentType.data_breach, make_intake(IncidentType.data_breach)
        )
        incident.flow_run_id = lost
        incident_id = incident.id
    outcomes: list[served_recovery.Outcome] = []

    def recover() -> None:
        outcomes.extend(served_recovery.recover(by="watch"))

    threads = [threading.Thread(target=recover) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    new_run = _run_of(incident_id)
    assert new_run != lost
    assert sorted(o.action for o in outcomes).count("started") == 1
    assert {o.new_run_id for o in outcomes if o.action != "alive"} == {new_run}
    with session_scope() as session:
        recovered = [e for e in timeline.events(session, incident_id) if e.kind == "run_recovered"]
    assert len(recovered) == 1 and "vanished" in recovered[0].message
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(new_run))
        assert run.parameters == {"incident_id": incident_id, "drill": False}
        client.delete_flow_run(run.id)  # nobody serves it; no later test's serve should run it


def test_recover_by_hand_says_what_it_did_and_fails_cleanly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope() as session:
        incident = incidents.open_incident(
            session, IncidentType.system_failure, make_intake(IncidentType.system_failure)
        )
        incident.flow_run_id = "3b0c7a52-0000-4000-8000-000000000001"
        incidents.end_incident(session, incident, IncidentStatus.closed, "done")
        closed = incident.id

    assert main(["incidents", "recover", closed]) == 0
    assert capsys.readouterr().out.strip() == f"{closed}: closed: nothing to recover"
    assert main(["incidents", "recover"]) == 0
    assert "0 open incident(s) with a flow run: 0 alive" in capsys.readouterr().out
    assert main(["incidents", "recover", "INC-NOPE"]) == 1
    assert "no incident 'INC-NOPE'" in capsys.readouterr().err

    with session_scope() as session:
        incident = incidents.open_incident(
            session, IncidentType.system_failure, make_intake(IncidentType.system_failure)
        )
        incident.flow_run_id = "3b0c7a52-0000-4000-8000-000000000002"
        running = incident.id
    monkeypatch.delenv("PREFECT_API_URL")  # no stack, no API: said, not a traceback
    assert main(["incidents", "recover", running]) == 1
    assert "no Prefect API: start the stack with `irp up`" in capsys.readouterr().err
    assert main(["incidents", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert next(line for line in listed if running in line).rstrip().endswith("?")
    assert next(line for line in listed if closed in line).rstrip().endswith("Z")  # no run column
