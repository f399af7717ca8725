"""Time to detect, acknowledge, contain and resolve in the post-incident report (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.plan.loader import get_plan
from irp.reporting import report as reporting
from irp.settings import get_settings
from models.enums import IncidentType
from tests.factories import make_report

DETECTED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _times_section(occurred: datetime | None) -> list[str]:
    """The report's time table rows for an incident detected at DETECTED, activated 5 min later."""
    with session_scope() as session:
        incident = incidents.open_incident(
            session,
            IncidentType.system_failure,
            make_report(IncidentType.system_failure, occurred_at=occurred, detected_at=DETECTED),
            drill=False,
        )
        incident.activated_at = DETECTED + timedelta(minutes=5)
        report = reporting.build_report(session, get_plan(), incident, get_settings().reports_dir)
    section = report.markdown.split("### Time to detect", 1)[1].split("\n## ", 1)[0]
    html = (report.folder / "report.html").read_text(encoding="utf-8")
    assert "<h3>Time to detect, acknowledge, contain and resolve (minutes)</h3>" in html
    return [line for line in section.splitlines() if line.startswith("| ")][1:]


def test_time_to_detect_runs_from_occurrence_to_detection() -> None:
    rows = _times_section(DETECTED - timedelta(minutes=42, seconds=30))
    assert rows == [
        "| detect | occurred | detected | 42.5 |",
        "| acknowledge | detected | activated | 5.0 |",
        "| contain | detected | contained |  |",
        "| resolve | detected | resolved |  |",
    ]


def test_an_unknown_time_of_occurrence_leaves_time_to_detect_blank_not_zero() -> None:
    rows = _times_section(None)
    assert rows[0] == "| detect | occurred | detected |  |"
