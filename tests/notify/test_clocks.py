"""Regulatory clocks driven by an injected clock: start, remind, stop, met or missed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from irp.cli.main import main
from irp.db import session_scope
from irp.errors import InvalidInput, NotFound
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.notify import clocks, service
from irp.plan.loader import get_plan, plan_for
from models.enums import IncidentStatus, NationalGrade
from tests.notify.helpers import Sleeps, open_breach, routed_plan, sent_queued
from tests.notify.receiver import Receiver

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def _start(plan_file: Path, grade: NationalGrade | None = None, **facts: object) -> str:
    incident_id = open_breach(plan_file, detected_at=T0, **facts)
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        incident.national_grade = grade
        clocks.start_clocks(session, incident, get_plan(plan_file))
    return incident_id


def _rows(incident_id: str, now: datetime) -> dict[str, dict[str, object]]:
    with session_scope() as session:
        return {r["rule"]: r for r in clocks.clock_rows(session, incident_id, now)}


def test_clocks_start_at_detection_when_facts_match(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file, NationalGrade.III, gdpr_subjects=True, cardholder_data=True)

    rows = _rows(incident_id, T0)
    assert set(rows) == {"cac", "pipl", "gdpr", "pci"}
    assert all(r["started_at"] == T0 for r in rows.values())
    assert rows["cac"]["deadline_at"] == T0 + timedelta(hours=4)
    assert rows["pipl"]["deadline_at"] == T0 + timedelta(hours=1)
    assert rows["gdpr"]["deadline_at"] == T0 + timedelta(hours=72)
    assert {r["status"] for r in rows.values()} == {"running"}


def test_grade_iv_without_gdpr_or_cards_starts_only_pipl(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file, NationalGrade.IV)

    assert set(_rows(incident_id, T0)) == {"pipl"}


def test_critical_information_infrastructure_gets_one_hour(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None, critical_information_infrastructure=True)
    incident_id = _start(plan_file, NationalGrade.II)

    assert _rows(incident_id, T0)["cac"]["deadline_at"] == T0 + timedelta(hours=1)


def test_reminders_at_half_ninety_percent_and_expiry(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file)

    def due(minutes: float) -> list[float]:
        with session_scope() as session:
            found = clocks.due_reminders(
                session, plan_for, T0 + timedelta(minutes=minutes), incident_id
            )
            for reminder in found:
                assert clocks.claim_reminder(session, reminder)
        return [r.share for r in found]

    assert due(29) == []
    assert due(30) == [0.5]
    assert due(40) == []
    assert due(54) == [0.9]
    assert due(60) == [1.0]
    assert due(500) == []


def test_a_late_check_sends_only_the_latest_reminder(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file)
    with session_scope() as session:
        [reminder] = clocks.due_reminders(
            session, plan_for, T0 + timedelta(minutes=58), incident_id
        )
        assert clocks.claim_reminder(session, reminder)
        assert reminder.share == 0.9
        assert (
            clocks.due_reminders(session, plan_for, T0 + timedelta(minutes=59), incident_id) == []
        )


def test_tick_sends_reminders_to_legal_and_leadership(tmp_path: Path, receiver: Receiver) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = _start(plan_file)

    sent = service.tick_clocks(
        incident_id, plan_for, sleep=Sleeps(), clock=lambda: T0 + timedelta(minutes=31)
    )

    assert sent == 1
    paths = sorted(r.path for r in receiver.requests)
    assert paths == ["/cio", "/leadership", "/legal"]
    legal = next(r.json for r in receiver.requests if r.path == "/legal")
    assert "Regulatory deadline reminder" in legal["title"]
    assert "clock pipl 50% of the window used" in legal["message"]
    assert f"irp clocks stop {incident_id} pipl" in legal["message"]
    assert service.tick_clocks(incident_id, plan_for, clock=lambda: T0 + timedelta(minutes=32)) == 0


def test_a_stage_boundary_reminds_as_the_runs_plan_says_not_the_file(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Inside a flow the run's plan (a drill may have adjusted it) is what the clock check
    sees; the incident's plan file is read again only outside the flow."""
    from tasks.notify import tick_clocks_task

    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = _start(plan_file)  # detected days ago: the PIPL clock is past its deadline
    plan = get_plan(plan_file)
    pipl = plan.notifications.clocks["pipl"].model_copy(update={"remind": ["technical"]})
    runs_plan = plan.model_copy(
        update={
            "notifications": plan.notifications.model_copy(
                update={"clocks": {**plan.notifications.clocks, "pipl": pipl}}
            )
        }
    )

    assert tick_clocks_task.fn(incident_id, runs_plan, None) == 1
    sent_queued(incident_id)

    paths = {r.path for r in receiver.requests}
    assert "/technical" in paths and "/legal" not in paths


def test_stopping_in_time_is_met_late_is_missed_never_is_missed(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file, NationalGrade.III, gdpr_subjects=True)
    now = T0 + timedelta(hours=5)
    with session_scope() as session:
        clocks.stop_clock(
            session,
            incident_id,
            "pipl",
            by="Legal counsel",
            reference="PI-7",
            at=T0 + timedelta(minutes=45),
            now=now,
        )
        clocks.stop_clock(session, incident_id, "cac", by="CISO", reference="CAC-1", now=now)

    rows = _rows(incident_id, now)
    assert rows["pipl"]["status"] == "met" and rows["pipl"]["reference"] == "PI-7"
    assert rows["cac"]["status"] == "missed"  # notified 5 h after detection, window 4 h
    assert rows["gdpr"]["status"] == "running"
    assert _rows(incident_id, T0 + timedelta(hours=73))["gdpr"]["status"] == "missed"
    with session_scope() as session:
        late = clocks.due_reminders(session, plan_for, T0 + timedelta(hours=73), incident_id)
    assert [(r.rule, r.share) for r in late] == [("gdpr", 1.0)]  # stopped clocks stay quiet


def test_stop_refuses_bad_input(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file)
    with session_scope() as session:
        with pytest.raises(NotFound, match="no clock 'gdpr'"):
            clocks.stop_clock(session, incident_id, "gdpr", by="x", reference="y", now=T0)
        with pytest.raises(InvalidInput, match="by"):
            clocks.stop_clock(session, incident_id, "pipl", by=" ", reference="y", now=T0)
        with pytest.raises(InvalidInput, match="at: .* before"):
            clocks.stop_clock(
                session,
                incident_id,
                "pipl",
                by="x",
                reference="y",
                at=T0 - timedelta(minutes=1),
                now=T0,
            )


def test_cli_stops_a_clock_and_show_lists_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = open_breach(plan_file)  # detected now: the clock is still running
    with session_scope() as session:
        clocks.start_clocks(
            session, incidents.get_incident(session, incident_id), get_plan(plan_file)
        )

    assert main(["clocks", "stop", incident_id, "pipl", "--reference", "R-1"]) == 2
    assert main(["clocks", "stop", incident_id, "nope", "--by", "a", "--reference", "R"]) == 1
    assert main(["clocks", "stop", incident_id, "pipl", "--by", "Legal", "--reference", "R-1"]) == 0
    assert "stopped (met)" in capsys.readouterr().out
    assert main(["incidents", "show", incident_id]) == 0
    shown = capsys.readouterr().out
    assert "regulatory clocks:" in shown and "pipl (" in shown and "MET" in shown
    assert main(["incidents", "show", incident_id, "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert [(c["rule"], c["status"], c["reference"]) for c in detail["clocks"]] == [
        ("pipl", "met", "R-1")
    ]


def test_the_cac_summary_clock_starts_at_closure_not_at_detection(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file, NationalGrade.III)
    assert "cac_summary" not in _rows(incident_id, T0)  # CAC: 30 days after the incident ends

    closed = T0 + timedelta(hours=6)
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        incident.status, incident.closed_at = IncidentStatus.closed, closed
        clocks.start_clocks(session, incident, get_plan(plan_file))
        started = [e.message for e in timeline.events(session, incident_id)]

    summary = _rows(incident_id, closed)["cac_summary"]
    assert summary["started_at"] == closed
    assert summary["deadline_at"] == closed + timedelta(days=30)
    assert summary["status"] == "running" and summary["remaining"] == "720h00m"
    assert any(m.startswith("Regulatory clock cac_summary") and "at closure" in m for m in started)


@pytest.mark.parametrize(
    ("grade", "status"),
    [(NationalGrade.IV, IncidentStatus.closed), (NationalGrade.II, IncidentStatus.rejected)],
)
def test_no_cac_summary_below_grade_iii_or_for_an_incident_that_never_closed(
    tmp_path: Path, grade: NationalGrade, status: IncidentStatus
) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file, grade)
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        incident.status, incident.closed_at = status, T0 + timedelta(hours=1)
        clocks.start_clocks(session, incident, get_plan(plan_file))
    assert "cac_summary" not in _rows(incident_id, T0)
