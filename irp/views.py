"""What the CLI shows: incident rows, one incident in detail, a rewritten report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from irp import actions, clocks, evidence, gates, incidents, logistics, reporting, timeline
from irp.db import session_scope
from irp.plan import get_plan
from irp.settings import get_settings
from models import IncidentPublic


def incident_rows(limit: int = 200) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [
            IncidentPublic.model_validate(i, from_attributes=True).model_dump(mode="json")
            for i in incidents.list_incidents(session, limit=limit)
        ]


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
                for e in evidence.items(session, incident_id)
            ],
            "clocks": clocks.clock_rows(session, incident_id),
        }
        report = get_settings().reports_dir / incident_id / "report.md"
        detail["report"] = str(report) if report.exists() else None
        return detail


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
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        plan = get_plan(incident.options.get("plan_file"))
        report = reporting.build_report(session, plan, incident, get_settings().reports_dir)
    return [
        report.folder / "report.md",
        report.folder / "report.html",
        report.folder / "timeline.csv",
    ]
