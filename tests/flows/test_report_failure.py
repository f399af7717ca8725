"""A report that cannot be written: `irp drill` ends with one clear line and exit 1, the
incident keeps waiting for its report, and a retry writes it."""

from __future__ import annotations

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.settings import get_settings
from models.enums import IncidentStatus, IncidentType, Stage

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


def test_an_unwritable_report_is_one_clear_error_and_is_written_on_retry(
    capfd: pytest.CaptureFixture[str],
) -> None:
    reports = get_settings().reports_dir
    reports.parent.mkdir(parents=True, exist_ok=True)
    reports.write_text("a file where the reports folder should be\n")

    assert main(["drill", "system-failure", "--auto-approve"]) == 1
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    with session_scope() as session:
        (incident,) = incidents.list_incidents(session)
        kinds = [e.kind for e in timeline.events(session, incident.id)]
    assert errors[0] == (
        f"error: {incident.id}: {reports / incident.id} not written: {reports} is a file, "
        "not a folder; the incident waits for its post-incident report: fix that, then "
        f"`irp incidents recover {incident.id}`"
    )
    assert (incident.status, incident.stage) == (IncidentStatus.active, Stage.post_incident_report)
    assert kinds.count("report_failed") == 1 and "report_written" not in kinds  # no retry loop

    assert main(["incidents", "show", incident.id]) == 0
    shown = capfd.readouterr().out
    assert "status: active" in shown and "stage: post_incident_report" in shown
    assert f"report: pending: {reports / incident.id} not written: {reports} is a file" in shown

    assert main(["report", incident.id]) == 1
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {reports / incident.id} not written: {reports} is a file, not a folder"
    ]

    reports.unlink()
    assert main(["report", incident.id]) == 0
    assert capfd.readouterr().out.split() == [
        str(reports / incident.id / name) for name in ("report.md", "report.html", "timeline.csv")
    ]
    assert main(["incidents", "show", incident.id]) == 0
    assert f"report: {reports / incident.id / 'report.md'}" in capfd.readouterr().out

    # The post-incident stage run again (what `irp incidents recover` starts) closes it.
    FLOWS[IncidentType.system_failure](incident_id=incident.id, drill=True, auto_approve=True)
    with session_scope() as session:
        closed = incidents.get_incident(session, incident.id)
        done = [
            e.stage for e in timeline.events(session, incident.id) if e.kind == "stage_completed"
        ]
    assert closed.status == IncidentStatus.closed and closed.closed_at is not None
    assert done == [s.value for s in Stage]  # each stage once: only the report was redone
    assert (reports / incident.id / "drill-record.md").exists()
