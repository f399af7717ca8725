"""The post-incident report (PLAN 4.6), computed from the timeline, actions, gates and resources."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlmodel import Session

from irp.duties import report_parts
from irp.errors import ReportNotWritten
from irp.gates import service as gates
from irp.incidents import timeline
from irp.notify import clocks
from irp.redact import Redactor, plan_redactor
from irp.reporting import loss, metrics
from irp.reporting.svg_chart import bar_chart
from irp.response import actions, custody, logistics
from models import Incident
from models.enums import STAGE_ORDER
from models.plan import Plan

if TYPE_CHECKING:
    import jinja2


@dataclass
class Report:
    """The report as written: Markdown and HTML with personal data masked."""

    incident_id: str
    markdown: str
    html: str
    folder: Path

    @property
    def markdown_path(self) -> Path:
        return self.folder / "report.md"


def timeline_frame(session: Session, incident_id: str) -> pd.DataFrame:
    rows = [
        {"at": e.at, "stage": e.stage, "kind": e.kind, "actor": e.actor, "message": e.message}
        for e in timeline.events(session, incident_id)
    ]
    return pd.DataFrame(rows, columns=["at", "stage", "kind", "actor", "message"])


def stage_durations(frame: pd.DataFrame) -> pd.DataFrame:
    """Seconds from each stage's first start to its completion, in plan order."""
    marks = frame[frame["kind"].isin(["stage_started", "stage_completed"])]
    table = marks.pivot_table(index="stage", columns="kind", values="at", aggfunc="first")
    out = []
    for stage in STAGE_ORDER:
        if stage.value in table.index:
            row = table.loc[stage.value]
            start, end = row.get("stage_started"), row.get("stage_completed")
            seconds = (end - start).total_seconds() if pd.notna(start) and pd.notna(end) else None
            out.append(
                {"stage": stage.value, "started": start, "completed": end, "seconds": seconds}
            )
    return pd.DataFrame(out, columns=["stage", "started", "completed", "seconds"])


def measures_frame(session: Session, incident_id: str) -> pd.DataFrame:
    rows = [
        {
            "action": r.action,
            "title": r.title,
            "group": r.group,
            "executor": r.executor,
            "status": r.status.value,
            "attempts": r.attempts,
            "seconds": (r.finished_at - r.started_at).total_seconds() if r.finished_at else None,
            "containment": r.containment,
            "undo": f"{r.undo_status}: {r.undo_note}" if r.undo_status else "",
            "last_error": r.last_error or "",
        }
        for r in actions.runs(session, incident_id)
    ]
    columns = ["action", "title", "group", "executor", "status", "attempts", "seconds"]
    return pd.DataFrame(rows, columns=[*columns, "containment", "undo", "last_error"])


def clock_frame(session: Session, incident_id: str) -> pd.DataFrame:
    """Each regulatory clock, met, missed or still running, with who notified and when."""
    columns = ["rule", "title", "status", "deadline", "notified", "by", "reference", "source"]
    rows = [
        {
            "rule": c["rule"],
            "title": c["title"],
            "status": c["status"],
            "deadline": _fmt_time(c["deadline_at"]),
            "notified": _fmt_time(c["notified_at"]) or "not yet",
            "by": c["notified_by"],
            "reference": c["reference"],
            "source": c["source"],
        }
        for c in clocks.clock_rows(session, incident_id)
    ]
    return pd.DataFrame(rows, columns=columns)


def parts_frame(session: Session, incident_id: str) -> pd.DataFrame:
    """Each acting group's latest part (PLAN 4.6); one the drill policy wrote says so."""
    rows = [
        {
            "group": p.group,
            "revision": p.revision,
            "by": f"{p.author} (drill policy, no person)" if p.by_drill_policy else p.author,
            "written": _fmt_time(p.written_at),
            "what it did": p.did,
            "cause": p.cause,
            "lessons": p.lessons,
        }
        for p in report_parts.latest_parts(session, incident_id)
    ]
    columns = ["group", "revision", "by", "written", "what it did", "cause", "lessons"]
    return pd.DataFrame(rows, columns=columns)


def improvements(
    plan: Plan, measures: pd.DataFrame, gate_rows: list[dict[str, object]], shortfalls: list[str]
) -> list[str]:
    """Concrete suggestions from what went wrong, then the review questions to discuss."""
    found: list[str] = []
    for row in measures.itertuples():
        if row.status == "failed":
            found.append(
                f"Action '{row.title}' failed after {row.attempts} attempts ({row.last_error})."
            )
        elif int(row.attempts) > 1:
            found.append(
                f"Action '{row.title}' needed {row.attempts} attempts: check its target's reliability."
            )
    slow = measures.dropna(subset=["seconds"])
    if not slow.empty and float(slow["seconds"].max()) > 600:
        worst = slow.loc[slow["seconds"].idxmax()]
        found.append(
            f"Action '{worst['title']}' took {worst['seconds']:.0f} s: automate or pre-stage it."
        )
    for gate in gate_rows:
        if gate["decision"] == "timeout":
            found.append(
                f"Gate '{gate['gate']}' round {gate['round']} timed out ({gate['outcome']}): "
                "check on-call reachability of its deciders."
            )
        if not gate["accepted"]:
            found.append(
                f"Gate '{gate['gate']}' got a decision from {gate['approver']}, who may not decide it."
            )
    found += [
        f"Resource shortfall: {s}; extend the inventory or agree a supplier." for s in shortfalls
    ]
    if not found:
        found.append("No failed or slow action, gate timeout or shortfall was recorded.")
    return found


@dataclass(frozen=True)
class Table:
    """A frame as text cells for the templates: a missing value is blank."""

    columns: list[str]
    rows: list[list[str]]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Table:
        cells = frame.astype(object).map(_cell)
        return cls(
            [str(c) for c in frame.columns], [list(r) for r in cells.itertuples(index=False)]
        )


def _cell(value: object) -> str:
    """Text for a person: seconds to a tenth (a millisecond under one second), blank if none."""
    if _missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1 else f"{value:.3f}"
    return str(value)


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, list | dict | str) and bool(pd.isna(value)))


def _chain_head(session: Session, incident_id: str) -> str:
    """The last timeline link when the report was written: `irp audit verify` proves the
    timeline still ends in it (or continues from it)."""
    head = timeline.head(session, incident_id)
    return f"{head} (irp audit verify {incident_id})" if head else "-"


def _fmt_time(value: object) -> str:
    """UTC wall time for people; blank for a missing or NaT value."""
    if value is None or value is pd.NaT or not isinstance(value, datetime):
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def build_report(session: Session, plan: Plan, incident: Incident, reports_dir: Path) -> Report:
    """Write report.md, report.html and timeline.csv under reports_dir/<incident-id>/, masked
    with the plan's redactor; ReportNotWritten when the folder or a file cannot be written."""
    events = timeline_frame(session, incident.id)
    durations = stage_durations(events)
    measures = measures_frame(session, incident.id)
    gate_rows = [
        {
            "gate": d.gate,
            "round": d.round,
            "decision": d.decision,
            "outcome": d.outcome,
            "approver": d.approver,
            "role": d.approver_role or "",
            "accepted": d.accepted,
            "decided_at": _fmt_time(d.decided_at),
            "wait_s": round((d.decided_at - d.requested_at).total_seconds(), 1),
            "comment": d.comment,
        }
        for d in gates.decisions(session, incident.id)
    ]
    held = logistics.allocations(session, incident.id)
    resources = pd.DataFrame(
        [
            {
                "resource": a.resource,
                "requested": a.requested,
                "reserved": a.reserved,
                "shortfall": a.shortfall,
                "status": a.status,
            }
            for a in held
        ],
        columns=["resource", "requested", "reserved", "shortfall", "status"],
    )
    shortfalls = [f"{a.shortfall} x {a.resource}" for a in held if a.shortfall]
    custody_rows = pd.DataFrame(
        [
            {
                "what": e.what,
                "where": e.location,
                "sha256": e.sha256,
                "by": e.collected_by,
                "at": _fmt_time(e.collected_at),
            }
            for e in custody.items(session, incident.id)
        ],
        columns=["what", "where", "sha256", "by", "at"],
    )
    people = sum(a.reserved for a in held if plan.resources[a.resource].kind == "people")
    clock_table = clock_frame(session, incident.id)
    parts = loss.assess(incident, plan.loss_model, loss.people_hours(incident, people))
    suggestions = improvements(plan, measures, gate_rows, shortfalls)

    header = pd.DataFrame(
        [
            ("Incident", incident.id),
            ("Type", incident.type.value + (f" / {incident.subtype}" if incident.subtype else "")),
            ("Drill", "yes" if incident.drill else "no"),
            ("Priority", incident.priority.value if incident.priority else "-"),
            ("National grade", incident.national_grade.value if incident.national_grade else "-"),
            ("Status", incident.status.value),
            ("Commander", incident.commander or "-"),
            ("Reporter", incident.reporter),
            ("Occurred", _fmt_time(incident.occurred_at) or "unknown"),
            ("Detected", _fmt_time(incident.detected_at)),
            ("Activated", _fmt_time(incident.activated_at) or "-"),
            ("Contained", _fmt_time(incident.contained_at) or "-"),
            ("Resolved", _fmt_time(incident.resolved_at) or "-"),
            ("Closed", _fmt_time(incident.closed_at) or "-"),
            ("Timeline chain head", _chain_head(session, incident.id)),
        ],
        columns=["field", "value"],
    )
    events_view = events.assign(at=events["at"].map(_fmt_time))
    loss_rows = pd.DataFrame(
        [
            {
                "part": p.name,
                f"amount ({plan.loss_model.currency})": p.display,
                "formula": p.formula,
                "inputs": "; ".join(f"{i.name}={i.value:g} [{i.source}]" for i in p.inputs),
            }
            for p in parts
        ]
    )
    tables = {
        "header": header,
        "events": events_view,
        "durations": durations.assign(
            started=durations["started"].map(_fmt_time),
            completed=durations["completed"].map(_fmt_time),
        ),
        "times": metrics.incident_times(incident),
        "measures": measures,
        "gate_decisions": pd.DataFrame(gate_rows),
        "group_parts": parts_frame(session, incident.id),
        "resources": resources,
        "custody": custody_rows,
        "clocks": clock_table,
        "loss": loss_rows,
    }
    context: dict[str, object] = {
        "title": f"Post-incident report {incident.id}: {incident.summary}",
        "summary": incident.summary,
        "description": incident.description,
        "suggestions": suggestions,
        "questions": plan.review_questions,
        **{name: Table.of(frame) for name, frame in tables.items()},
    }
    markdown = render("report.md", context)
    page = render("report.html", {**context, "chart": _duration_chart(durations)})
    folder = reports_dir / incident.id
    files = {
        "report.md": markdown,
        "report.html": page,
        "timeline.csv": events.to_csv(index=False),
    }
    written = write_masked(folder, files, plan_redactor(plan))
    return Report(incident.id, written["report.md"], written["report.html"], folder)


def write_masked(folder: Path, files: dict[str, str], redactor: Redactor) -> dict[str, str]:
    """Mask each text and write it as folder/<name>; return the masked texts.

    The one door through which report files leave irp, so no field can skip the mask. Each
    file is replaced whole (a full disk leaves the previous version, never half a file); an
    OSError becomes ReportNotWritten naming the path and the cause.
    """
    masked = {name: redactor.redact(text) for name, text in files.items()}
    target = folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in masked.items():
            target = folder / name
            partial = target.with_name(f".{name}.partial")
            try:
                partial.write_text(text, encoding="utf-8")
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
    except OSError as exc:
        raise ReportNotWritten(f"{target} not written: {_cause(exc, folder)}") from exc
    return masked


def _cause(exc: OSError, folder: Path) -> str:
    """Why a write failed, in words: a file standing where a folder should be is named."""
    blocker = next((p for p in [*reversed(folder.parents), folder] if p.is_file()), None)
    if blocker is not None:
        return f"{blocker} is a file, not a folder"
    return exc.strerror or str(exc)


def render(template: str, context: dict[str, object]) -> str:
    """One of irp/templates/ filled in; .html templates autoescape what they are given."""
    return _templates().get_template(template).render(context)


@cache
def _templates() -> jinja2.Environment:
    """The report templates in irp/templates/, HTML autoescaped; Jinja2 is imported here so a
    flow run pays for it only when it writes a report."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("irp.reporting", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["md_cell"] = lambda cell: cell.replace("|", "\\|").replace("\n", " ")
    return environment


def _duration_chart(durations: pd.DataFrame) -> str:
    """Stage durations as an inline SVG bar chart."""
    rows = durations.dropna(subset=["seconds"])
    return bar_chart(
        [(str(s), float(v)) for s, v in zip(rows["stage"], rows["seconds"], strict=True)]
    )
