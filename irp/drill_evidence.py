"""Drill evidence for auditors: the per-drill report and the 12-month coverage check.

PCI DSS v4.0 12.10.2: the incident response plan is reviewed and tested at least once every
12 months. Each drill leaves scorecard.csv and drill-evidence.md/.html next to its
post-incident report; `irp drills evidence` lists drills and flags untested types.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from irp.drills import AD_HOC, Scorecard, scores_since
from irp.redact import plan_redactor
from irp.reporting import write_masked
from models import Incident
from models.base import utcnow
from models.enums import IncidentStatus, IncidentType
from models.plan import Plan

ENDED = (IncidentStatus.closed, IncidentStatus.stopped, IncidentStatus.rejected)


@dataclass
class Evidence:
    """The evidence as written: Markdown and HTML with personal data masked."""

    markdown: str
    html: str
    folder: Path

    @property
    def markdown_path(self) -> Path:
        return self.folder / "drill-evidence.md"


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_\n"
    cells = frame.astype(object).map(
        lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
    )
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"
        for row in cells.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def write_evidence(plan: Plan, incident: Incident, card: Scorecard, reports_dir: Path) -> Evidence:
    """Write scorecard.csv and drill-evidence.md/.html under reports_dir/<incident-id>/, masked
    with the plan's redactor like the report beside them."""
    scenario = str(incident.options.get("scenario") or AD_HOC)
    spec = plan.drills.scenarios.get(scenario)
    injected = []
    if spec is not None:
        injected += [f"action {k} fails {n}x" for k, n in spec.faults.items()]
        injected += [
            f"gate {g} unanswered ({spec.gate_timeout_s:g} s)" for g in spec.unanswered_gates
        ]
        injected += [f"{n} x {r} beyond inventory" for r, n in spec.shortfall.items()]
    header = pd.DataFrame(
        [
            ("Date", incident.detected_at.strftime("%Y-%m-%d %H:%M UTC")),
            ("Scenario", scenario + (f": {spec.title}" if spec else "")),
            ("Incident", incident.id),
            ("Type", incident.type.value + (f" / {incident.subtype}" if incident.subtype else "")),
            ("Summary", incident.summary),
            ("Outcome", incident.status.value),
            ("Plan", f"{plan.name}, version {plan.version}"),
            ("Injected faults", "; ".join(injected) or "none"),
            (
                "Gates decided by the drill policy",
                "yes" if incident.options.get("auto_approve") else "no",
            ),
            ("Targets met", f"{card.met} of {card.total}"),
        ],
        columns=["field", "value"],
    )
    follow = pd.DataFrame(card.follow_ups, columns=["owner", "follow-up"])
    sections = [
        ("Drill", _table(header)),
        (
            "Participants",
            "People: " + (", ".join(card.participants) or "none") + "\n\n"
            "Groups: " + (", ".join(card.groups) or "none") + "\n",
        ),
        ("Results", _table(card.scores)),
        ("Gaps", "\n".join(f"- {g}" for g in card.gaps) + "\n" if card.gaps else "None found.\n"),
        ("Follow-ups", _table(follow)),
        (
            "Records",
            "- Post-incident report: report.md / report.html\n- Timeline: timeline.csv\n"
            "- Scorecard: scorecard.csv\n",
        ),
    ]
    title = f"Drill evidence {incident.id} ({scenario})"
    markdown = f"# {title}\n\nPCI DSS v4.0 12.10.2: test of the incident response plan.\n\n"
    markdown += "\n".join(f"## {name}\n\n{body}" for name, body in sections)
    files = {
        "scorecard.csv": card.scores.to_csv(index=False),
        "drill-evidence.md": markdown,
        "drill-evidence.html": _html(title, header, card, follow),
    }
    folder = reports_dir / incident.id
    written = write_masked(folder, files, plan_redactor(plan))
    return Evidence(written["drill-evidence.md"], written["drill-evidence.html"], folder)


def _html(title: str, header: pd.DataFrame, card: Scorecard, follow: pd.DataFrame) -> str:
    def table(frame: pd.DataFrame) -> str:
        if frame.empty:
            return "<p><em>none</em></p>"
        return frame.to_html(index=False, escape=True, border=0, na_rep="")

    gaps = "".join(f"<li>{html.escape(g)}</li>" for g in card.gaps) or "<li>None found.</li>"
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:left}th{background:#f2f4f7}"
    )
    people = html.escape(", ".join(card.participants) or "none")
    groups = html.escape(", ".join(card.groups) or "none")
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        "<p>PCI DSS v4.0 12.10.2: test of the incident response plan.</p>"
        f"<h2>Drill</h2>{table(header)}<h2>Participants</h2><p>People: {people}</p>"
        f"<p>Groups: {groups}</p><h2>Results</h2>{table(card.scores)}"
        f"<h2>Gaps</h2><ul>{gaps}</ul><h2>Follow-ups</h2>{table(follow)}</body></html>"
    )


@dataclass
class Audit:
    """Drills since a date, and per type when it was last drilled and whether that is too long ago."""

    drills: pd.DataFrame
    coverage: pd.DataFrame

    @property
    def overdue(self) -> list[str]:
        return [str(t) for t in self.coverage.loc[~self.coverage["ok"], "type"]]


def audit(session: Session, plan: Plan, since: datetime | None = None) -> Audit:
    """Every finished drill since `since` (default: the plan's interval back from now)."""
    now = utcnow()
    window = (
        pd.Timestamp(now) - pd.DateOffset(months=plan.drills.max_interval_months)
    ).to_pydatetime()
    since = since or window
    query = select(Incident).where(
        col(Incident.drill).is_(True),
        col(Incident.detected_at) >= since,
        col(Incident.status).in_(ENDED),
    )
    found = list(session.exec(query.order_by(col(Incident.detected_at))))
    scores = pd.DataFrame(
        [
            {"incident_id": s.incident_id, "kind": s.kind, "met": s.met}
            for s in scores_since(session, since)
        ],
        columns=["incident_id", "kind", "met"],
    )
    targets = scores[scores["kind"] != "gap"].groupby("incident_id")["met"].agg(["sum", "count"])
    gaps = scores[scores["kind"] == "gap"].groupby("incident_id").size()
    rows = []
    for inc in found:
        has = inc.id in targets.index
        rows.append(
            {
                "date": inc.detected_at.strftime("%Y-%m-%d"),
                "incident": inc.id,
                "type": inc.type.value,
                "scenario": inc.options.get("scenario") or AD_HOC,
                "outcome": inc.status.value,
                "targets_met": f"{int(targets.loc[inc.id, 'sum'])}/{int(targets.loc[inc.id, 'count'])}"
                if has
                else "no scorecard",
                "gaps": int(gaps.get(inc.id, 0)),
            }
        )
    last_query = (
        select(Incident.type, func.max(Incident.detected_at), func.count())
        .where(col(Incident.drill).is_(True), col(Incident.status).in_(ENDED))
        .group_by(Incident.type)
    )
    last = {t: (at, n) for t, at, n in session.exec(last_query)}
    coverage = []
    for itype in IncidentType:
        at, _ = last.get(itype, (None, 0))
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=now.tzinfo)
        ok = at is not None and at >= window
        coverage.append(
            {
                "type": itype.value,
                "last_drill": at.strftime("%Y-%m-%d") if at else "never",
                "ok": ok,
                "status": "ok"
                if ok
                else f"NOT DRILLED in {plan.drills.max_interval_months} months",
            }
        )
    columns = ["date", "incident", "type", "scenario", "outcome", "targets_met", "gaps"]
    return Audit(pd.DataFrame(rows, columns=columns), pd.DataFrame(coverage))
