"""What the CLI shows: incident rows, one incident in detail, a rewritten report.

Rows and details are masked here, before the text or JSON is made from them: the CLI's output
leaves irp (terminals, CI logs, tickets) like a report does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from irp.db import session_scope
from irp.gates import service as gates
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.notify import clocks
from irp.plan.loader import get_plan
from irp.redact import Redactor, plan_redactor
from irp.reporting import report as reporting
from irp.response import actions, custody, logistics
from irp.settings import get_settings
from models import Incident, IncidentPublic
from models.enums import Stage


def incident_rows(limit: int = 200) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [
            _redactor(i).redact_data(
                IncidentPublic.model_validate(i, from_attributes=True).model_dump(mode="json")
            )
            for i in incidents.list_incidents(session, limit=limit)
        ]


def _redactor(incident: Incident) -> Redactor:
    """The masks of the plan the incident runs under."""
    return plan_redactor(get_plan(incident.options.get("plan_file")))


def incident_detail(incident_id: str) -> dict[str, Any]:
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        detail = IncidentPublic.model_validate(incident, from_attributes=True).model_dump(
            mode="json"
        )
        detail |= {
            "summary": incident.summary,
            "reporter": incident.reporter,
            "scope": incident.scope,
            "reported_at": incident.reported_at,
            "timeline": [
                e.model_dump(mode="json", exclude={"id", "incident_id"})
                for e in timeline.events(session, incident_id)
            ],
            "gates": [
                d.model_dump(mode="json", exclude={"id", "incident_id"})
                for d in gates.decisions(session, incident_id)
            ],
            "actions": [
                r.model_dump(mode="json", exclude={"id", "incident_id"})
                for r in actions.runs(session, incident_id)
            ],
            "resources": [
                a.model_dump(mode="json", exclude={"id", "incident_id"})
                for a in logistics.allocations(session, incident_id)
            ],
            "evidence": [
                e.model_dump(mode="json", exclude={"id", "incident_id"})
                for e in custody.items(session, incident_id)
            ],
            "clocks": clocks.clock_rows(session, incident_id),
        }
        detail["report"] = _report_state(detail["timeline"], incident_id)
        masked: dict[str, Any] = _redactor(incident).redact_data(detail)
        return masked


def _report_state(events: list[dict[str, Any]], incident_id: str) -> str | None:
    """Where the report is, or why it is still pending when its last write failed."""
    tries = [e for e in events if e["kind"] in ("report_written", "report_failed")]
    if tries and tries[-1]["kind"] == "report_failed":
        return f"pending: {tries[-1]['data']['reason']}"
    report = get_settings().reports_dir / incident_id / "report.md"
    return str(report) if report.exists() else None


def text_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def detail_text(detail: dict[str, Any]) -> str:
    head = [
        "id",
        "type",
        "subtype",
        "priority",
        "national_grade",
        "status",
        "stage",
        "drill",
        "commander",
        "detected_at",
        "closed_at",
        "report",
    ]
    lines = [f"{k:>15}: {detail.get(k)}" for k in head]
    lines += ["\nregulatory clocks:"] + [f"  {clocks.describe(c)}" for c in detail["clocks"]]
    lines.append("\ntimeline:")
    lines += [
        f"  {e['at']}  {e['stage']:<20} {e['kind']:<20} {e['actor']}: {e['message']}"
        for e in detail["timeline"]
    ]
    return "\n".join(lines)


def rewrite_report(incident_id: str) -> list[Path]:
    """Write the report again from the database (also the retry after a failed write)."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        plan = get_plan(incident.options.get("plan_file"))
        report = reporting.build_report(session, plan, incident, get_settings().reports_dir)
        timeline.record(
            session,
            incident_id,
            Stage.post_incident_report,
            "report_written",
            f"Post-incident report written again by hand to {report.markdown_path}",
            data={"path": str(report.markdown_path)},
        )
    return [
        report.folder / "report.md",
        report.folder / "report.html",
        report.folder / "timeline.csv",
    ]
