"""Post-incident report stage (PLAN 4.6): write the report, then publish it as artifacts."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from irp import incidents, timeline
from irp.db import session_scope
from irp.plan import get_plan
from irp.redact import plan_redactor
from irp.settings import get_settings
from models.enums import IncidentStatus, Stage
from models.plan import Plan
from tasks.common import DB_TASK, publish


@task(name="write-report", **DB_TASK)
def write_report(incident_id: str, plan: Plan, close: bool = True) -> str:
    """Close an incident that got here active (unless a stage failed: `close=False`), then
    write report.md/.html and timeline.csv; return the path of report.md."""
    from irp import reporting  # pandas: loaded when writing, not at run start

    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        if close and incident.status == IncidentStatus.active:
            incident.status = IncidentStatus.closed
            incidents.mark_milestone(session, incident, "closed")
            timeline.record(
                session, incident_id, Stage.post_incident_report, "closed", "Incident closed"
            )
        if close:
            incident.stage = Stage.post_incident_report
            session.add(incident)
        report = reporting.build_report(session, plan, incident, get_settings().reports_dir)
        timeline.record(
            session,
            incident_id,
            Stage.post_incident_report,
            "report_written",
            f"Post-incident report written to {report.markdown_path}",
            data={"path": str(report.markdown_path)},
        )
    return str(report.markdown_path)


@task(name="publish-report", **DB_TASK)
def publish_report(incident_id: str, markdown_path: str) -> None:
    """The written report as Prefect artifacts: its Markdown and a table of the measures taken.
    A task of its own, so it runs while people are told and a failed upload retries alone."""
    from irp import reporting

    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        measures = reporting.measures_frame(session, incident_id)
    key = incident_id.lower()
    publish(
        {
            f"{key}-report": (
                "Post-incident report",
                Path(markdown_path).read_text(encoding="utf-8"),
            ),
            f"{key}-measures": ("Measures taken", measures),
        },
        plan_redactor(get_plan(incident.options.get("plan_file"))),
    )
