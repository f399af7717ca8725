"""Recovery's rules without Prefect: which runs are stranded, who wins a takeover, what a new
run is given, and which gate round a run that takes over asks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from irp.db import session_scope
from irp.gates import service as gates
from irp.gates import waits as gate_waits
from irp.incidents import recovery, timeline
from irp.incidents import service as incidents
from irp.plan.loader import get_plan
from models import Notification
from models.base import utcnow
from models.enums import IncidentStatus, IncidentType, Stage
from tests.factories import make_report


def _incident(**options: object) -> str:
    with session_scope() as session:
        incident = incidents.open_incident(
            session,
            IncidentType.data_breach,
            make_report(IncidentType.data_breach),
            drill=True,
            options=dict(options),
        )
        incident.flow_run_id = "run-a"
        return incident.id


@pytest.mark.parametrize(
    ("state", "health"),
    [
        (recovery.RunState("RUNNING", "Running"), recovery.Health.alive),
        (recovery.RunState("PAUSED", "Suspended"), recovery.Health.alive),
        (recovery.RunState("SCHEDULED", "Resuming"), recovery.Health.alive),
        (recovery.RunState("CRASHED", "Crashed", "No heartbeat"), recovery.Health.stranded),
        (recovery.VANISHED, recovery.Health.stranded),
        (
            recovery.RunState("FAILED", "Failed", "The flow was paused and never resumed."),
            recovery.Health.stranded,
        ),
        (
            recovery.RunState("CANCELLED", "Cancelled", "Runner is shutting down."),
            recovery.Health.stranded,
        ),
        (
            recovery.RunState(
                "FAILED", "Failed", "Flow run encountered an exception: ActionFailed"
            ),
            recovery.Health.stopped,
        ),
        (
            recovery.RunState("CANCELLED", "Cancelled", "Cancelled by alice"),
            recovery.Health.stopped,
        ),
        (recovery.RunState("COMPLETED", "Completed"), recovery.Health.stopped),
    ],
)
def test_only_runs_whose_process_died_are_restarted_without_asking(
    state: recovery.RunState, health: recovery.Health
) -> None:
    assert state.health == health


def test_a_just_failed_pause_is_left_to_settle_a_crash_is_not() -> None:
    now = utcnow()
    message = "The flow was paused and never resumed."
    assert not recovery.RunState("FAILED", "Failed", message, now).settled(now)
    assert recovery.RunState("FAILED", "Failed", message, now - recovery.SETTLE).settled(now)
    assert recovery.RunState("CRASHED", "Crashed", "", now).settled(now)


def test_of_two_recoverers_only_one_takes_the_incident_over() -> None:
    incident_id = _incident()
    with session_scope() as session:
        assert recovery.claim(session, incident_id, "run-a", "run-b")
    with session_scope() as session:  # the second saw run-a dead too, and got the same new run
        assert not recovery.claim(session, incident_id, "run-a", "run-b")
        assert not recovery.claim(session, incident_id, "run-a", "run-c")
        assert incidents.get_incident(session, incident_id).flow_run_id == "run-b"


def test_a_new_run_gets_the_dead_runs_parameters_without_the_report() -> None:
    incident_id = _incident(auto_approve=True, plan_file="/plans/p.yaml")
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        previous = {
            "report": {"summary": "x"},
            "incident_id": None,
            "notify_url": "json://127.0.0.1:9/hook",
            "faults": {"fail_over": 1},
        }
        again = recovery.restart_parameters(incident, previous)
        lost = recovery.restart_parameters(incident, None)  # Prefect no longer knows the run
    assert again == {
        "incident_id": incident_id,
        "drill": True,
        "notify_url": "json://127.0.0.1:9/hook",
        "faults": {"fail_over": 1},
    }
    assert lost == {
        "incident_id": incident_id,
        "drill": True,
        "auto_approve": True,
        "plan_file": "/plans/p.yaml",
    }


def test_open_incidents_with_runs_leave_out_ended_and_undispatched_ones() -> None:
    running, closed = _incident(), _incident()
    with session_scope() as session:
        incidents.end_incident(
            session, incidents.get_incident(session, closed), IncidentStatus.closed, "done"
        )
        assert recovery.incidents_with_runs(session) == {running: "run-a"}
        assert recovery.incidents_with_runs(session, closed) == {}


def _wait(session: Session, incident_id: str, round_: int, run_id: str, **data: object) -> None:
    timeline.record(
        session,
        incident_id,
        Stage.command,
        "gate_waiting",
        "waiting",
        data={"gate": "activation", "round": round_, "flow_run_id": run_id, **data},
    )


def _decide(session: Session, incident_id: str, round_: int, outcome: str, accepted: bool) -> None:
    gates.record_decision(
        session,
        incidents.get_incident(session, incident_id),
        "activation",
        get_plan().gates["activation"],
        round_=round_,
        decision="approve",
        outcome=outcome,
        approver="someone",
        approver_role=None,
        requested_at=utcnow(),
        accepted=accepted,
    )


def test_a_run_taking_over_asks_the_open_round_again() -> None:
    incident_id = _incident()
    with session_scope() as session:
        assert gate_waits.round_to_ask(session, incident_id, "activation", []) == 1
        _wait(session, incident_id, 1, "run-a")
        _decide(session, incident_id, 1, "refused", accepted=False)  # `irp approve` refused
        past = gates.decisions(session, incident_id, "activation")
        assert gate_waits.round_to_ask(session, incident_id, "activation", past) == 1
        asked = gate_waits.round_asked(session, incident_id, "activation", 1)
        assert asked is not None and asked.flow_run_ids == {"run-a"}

        _decide(session, incident_id, 1, "escalate", accepted=True)
        past = gates.decisions(session, incident_id, "activation")
        assert gate_waits.round_to_ask(session, incident_id, "activation", past) == 2
        assert gate_waits.round_asked(session, incident_id, "activation", 2) is None


def test_a_suspended_round_asked_again_times_out_from_its_first_announcement() -> None:
    incident_id = _incident()
    since = utcnow() - timedelta(seconds=100)
    with session_scope() as session:
        _wait(session, incident_id, 1, "run-a", suspended=False, timeout_s=60)
        timeline.record(
            session,
            incident_id,
            Stage.command,
            "gate_reasked",
            "asked again",
            data={
                "gate": "activation",
                "round": 1,
                "flow_run_id": "run-b",
                "suspended": True,
                "timeout_s": 60,
                "since": since.isoformat(),
            },
        )
        overdue = gate_waits.overdue_suspended(session, utcnow())
    assert [(w.incident_id, w.flow_run_id) for w in overdue] == [(incident_id, "run-b")]
    assert overdue[0].deadline == since + timedelta(seconds=60)


def test_an_event_already_announced_or_recorded_is_known() -> None:
    incident_id = _incident()
    with session_scope() as session:
        assert not recovery.announced(session, incident_id, "report_received")
        session.add(
            Notification(
                incident_id=incident_id,
                event="report_received",
                audience="leadership",
                target="json://****",
                title="t",
                body="b",
                status="sent",
            )
        )
        timeline.record(
            session, incident_id, Stage.report, "notified", "n", data={"event": "contained"}
        )
        session.flush()
        assert recovery.announced(session, incident_id, "report_received")
        assert recovery.announced(session, incident_id, "contained")  # routed to nobody
        assert not recovery.announced(session, incident_id, "closed")


def test_entering_a_stage_again_records_its_start_once() -> None:
    incident_id = _incident()
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        incidents.enter_stage(session, incident, Stage.command)
        incidents.enter_stage(session, incident, Stage.command)
        kinds = [e.kind for e in timeline.events(session, incident_id)]
    assert kinds.count("stage_started") == 1


def test_a_superseded_run_is_told_so() -> None:
    incident_id = _incident()
    with session_scope() as session:
        recovery.ensure_driving(session, incident_id, "run-a")
        with pytest.raises(recovery.Superseded, match="superseded by run run-a"):
            recovery.ensure_driving(session, incident_id, "run-old")


def test_automatic_recoveries_are_counted_within_the_hour() -> None:
    incident_id = _incident()
    dead = recovery.RunState("CRASHED", "Crashed")
    with session_scope() as session:
        recovery.record_recovery(session, incident_id, "run-a", dead, "run-b", "watch")
        recovery.record_recovery(session, incident_id, "run-b", dead, "run-c", "cli")
        session.flush()
        assert recovery.recent_auto_recoveries(session, incident_id, utcnow()) == 1
        assert recovery.recovered_into(session, incident_id, "run-c")
        event = recovery.recorded(session, incident_id, recovery.RECOVERED)
    assert event is not None and "run-a Crashed; run run-b started by recovery" in event.message
