"""A drill through the real flow on a real Prefect server, its messages sent to a receiver."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import session_scope
from irp.notify.templates import HEADLINES
from irp.settings import get_settings
from models.base import utcnow
from models.enums import IncidentType
from tests.factories import make_intake, write_plan
from tests.identity.helpers import leadership_only_data
from tests.notify.helpers import sent_queued
from tests.notify.receiver import Receiver

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]

PHONE, EMAIL, ID_NO = "13812345678", "li.lei@example.com", "11010519491231002X"
STAGE_AUDIENCES = {
    "report_received": {"leadership", "technical"},
    "plan_activated": {"leadership", "technical", "customer_service", "legal", "logistics"},
    "contained": {"leadership", "technical", "customer_service", "legal"},
    "closed": {"leadership", "technical", "customer_service", "legal", "logistics"},
    "report_ready": {"leadership", "technical", "legal"},
}


def _event(title: str) -> str:
    return next(event for event, text in HEADLINES.items() if f" {text}: " in title)


def test_cli_drill_notifies_every_audience_at_every_stage_masked(
    receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    description = f"Customer {PHONE} ({EMAIL}, ID {ID_NO}) found their order data online"
    code = main(
        [
            "drill",
            "data-breach",
            "--auto-approve",
            "--notify",
            receiver.url("json", "/drill"),
            "--description",
            description,
        ]
    )

    assert code == 0
    incident_id = capsys.readouterr().out.split("incident: ", 1)[1].split()[0]
    seen: dict[str, set[str]] = {}
    for request in receiver.requests:
        text = request.body.decode("utf-8")
        for secret in (PHONE, EMAIL, ID_NO):
            assert secret not in text
        title = request.json["title"]
        assert title.startswith(f"[DRILL] {incident_id} ")
        audience = title.rsplit("[", 1)[1].rstrip("]")
        seen.setdefault(_event(title), set()).add(audience)
    assert {e: seen.get(e, set()) for e in STAGE_AUDIENCES} == STAGE_AUDIENCES
    technical = next(
        r.json["message"]
        for r in receiver.requests
        if "[technical]" in r.json["title"] and "reported" in r.json["title"]
    )
    assert "138****5678" in technical

    markdown = (get_settings().reports_dir / incident_id / "report.md").read_text("utf-8")
    clocks = markdown.split("### Regulatory clocks", 1)[1].split("\n## ", 1)[0]
    assert "| pipl |" in clocks and "| met |" in clocks
    assert f"DRILL-{incident_id}-pipl" in clocks


def test_a_clock_already_past_its_deadline_shows_missed(receiver: Receiver) -> None:
    intake = make_intake(
        IncidentType.data_breach,
        detected_at=utcnow() - timedelta(hours=2),
        gdpr_subjects=True,
    )

    incident_id = FLOWS[IncidentType.data_breach](
        intake=intake, drill=True, auto_approve=True, notify_url=receiver.url("json", "/d")
    )

    markdown = (get_settings().reports_dir / incident_id / "report.md").read_text("utf-8")
    clocks = markdown.split("### Regulatory clocks", 1)[1].split("\n## ", 1)[0]
    rows = {
        line.split("|")[1].strip(): line for line in clocks.splitlines() if line.startswith("| ")
    }
    assert "| missed |" in rows["pipl"]  # 60 min window, filed 2 h after detection
    assert "| met |" in rows["gdpr"]
    with session_scope() as session:
        from irp.incidents import timeline

        kinds = [e.kind for e in timeline.events(session, incident_id)]
    assert kinds.count("clock_started") == 2 and kinds.count("clock_stopped") == 2


def test_a_grade_iii_incident_reports_the_cac_summary_due_30_days_after_closure(
    receiver: Receiver,
) -> None:
    intake = make_intake(IncidentType.data_breach, people_affected=2_000_000)  # grade III

    incident_id = FLOWS[IncidentType.data_breach](
        intake=intake, drill=True, auto_approve=True, notify_url=receiver.url("json", "/d")
    )

    with session_scope() as session:
        from irp.incidents import service as incidents
        from irp.notify import clocks as clock_service

        closed_at = incidents.get_incident(session, incident_id).closed_at
        rows = {r["rule"]: r for r in clock_service.clock_rows(session, incident_id)}
    assert closed_at is not None
    assert rows["cac_summary"]["started_at"] == closed_at
    assert rows["cac_summary"]["deadline_at"] == closed_at + timedelta(days=30)
    assert rows["cac"]["started_at"] < closed_at  # the 4 h report runs from detection
    markdown = (get_settings().reports_dir / incident_id / "report.md").read_text("utf-8")
    section = markdown.split("### Regulatory clocks", 1)[1].split("\n## ", 1)[0]
    (line,) = [row for row in section.splitlines() if row.startswith("| cac_summary |")]
    deadline = (closed_at + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert "| CAC incident summary report | running |" in line and deadline in line


def test_waiting_gates_link_the_run_and_timeouts_escalate(
    receiver: Receiver, tmp_path: Path
) -> None:
    data = leadership_only_data()  # gates only: no work for people or report parts to wait on
    for name, gate in data["gates"].items():
        gate.update(timeout_s=1, on_timeout="escalate", max_escalations=1)
        if name != "triage":  # a type is never chosen by a timeout (and a known type skips it)
            gate["on_final_timeout"] = "proceed"
    plan_file = write_plan(tmp_path, data)

    incident_id = FLOWS[IncidentType.system_failure](
        intake=make_intake(IncidentType.system_failure),
        plan_file=str(plan_file),
        notify_url=receiver.url("json", "/oncall"),
    )
    sent_queued(incident_id)

    waiting = [r.json for r in receiver.requests if "Decision needed" in r.json["title"]]
    escalated = [r.json for r in receiver.requests if "escalated" in r.json["title"]]
    first = next(m for m in waiting if m["title"].endswith("[cio]"))
    assert "Gate: Activate the emergency response plan (round 1)" in first["message"]
    assert "/runs/flow-run/" in first["message"]
    assert f"irp approve {incident_id} --decision approve --by <role>" in first["message"]
    audiences = {m["title"].rsplit("[", 1)[1].rstrip("]") for m in escalated}
    assert audiences == {"leadership", "ciso"}
    assert "Nobody decided within 1 s; escalated." in escalated[0]["message"]
