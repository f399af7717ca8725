"""Post-incident report stage (PLAN 4.6): write the report, then publish it as artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import Task, task
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from irp.db import session_scope
from irp.errors import ReportNotWritten
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.notify import clocks
from irp.plan.loader import get_plan
from irp.redact import plan_redactor
from irp.settings import get_settings
from models.enums import IncidentStatus, Stage
from models.plan import Plan
from tasks.common import DB_TASK, publish


def _unless_unwritable(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a database hiccup, not a folder that cannot be written: that fails at once and
    the report waits for a retry by hand or by recovery."""
    return not isinstance(state.result(raise_on_failure=False), ReportNotWritten)


@task(name="write-report", retry_condition_fn=_unless_unwritable, **DB_TASK)
def write_report(incident_id: str, plan: Plan, close: bool = True) -> str:
    """Close an incident that got here active (unless a stage failed: `close=False`), then
    write report.md/.html and timeline.csv; return the path of report.md."""
    from irp.reporting import report as reporting  # pandas: loaded when writing, not at run start

    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        if close and incident.status == IncidentStatus.active:
            incident.status = IncidentStatus.closed
            incidents.mark_milestone(session, incident, "closed")
            timeline.record(
                session, incident_id, Stage.post_incident_report, "closed", "Incident closed"
            )
            clocks.start_clocks(session, incident, plan)  # those that run from closure
        if close:
            incident.stage = Stage.post_incident_report
            session.add(incident)
        try:
            report = reporting.build_report(session, plan, incident, get_settings().reports_dir)
        except ReportNotWritten as exc:
            session.rollback()  # the incident stays as it was: its report is still due
            _report_failed(incident_id, str(exc))
            raise ReportNotWritten(
                f"{incident_id}: {exc}; the incident waits for its post-incident report: "
                f"fix that, then `irp incidents recover {incident_id}`"
            ) from exc
        timeline.record(
            session,
            incident_id,
            Stage.post_incident_report,
            "report_written",
            f"Post-incident report written to {report.markdown_path}",
            data={"path": str(report.markdown_path)},
        )
    return str(report.markdown_path)


def _report_failed(incident_id: str, why: str) -> None:
    """Put the failed write on the timeline, where `irp incidents show` finds it."""
    with session_scope() as session:
        timeline.record(
            session,
            incident_id,
            Stage.post_incident_report,
            "report_failed",
            f"Post-incident report not written: {why}",
            data={"reason": why},
        )


@task(name="publish-report", **DB_TASK)
def publish_report(incident_id: str, markdown_path: str) -> None:
    """The written report as Prefect artifacts: its Markdown and a table of the measures taken.
    A task of its own, so it runs while people are told and a failed upload retries alone."""
    from irp.reporting import report as reporting

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
