"""Drill record for auditors: the per-drill report and the 12-month coverage check.

PCI DSS v4.0 12.10.2: the incident response plan is reviewed and tested at least once every
12 months. Each drill leaves scorecard.csv and drill-record.md/.html next to its
post-incident report; `irp drills audit` lists drills and flags untested types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from irp.drills.scoring import AD_HOC, Scorecard, scores_since
from irp.redact import plan_redactor
from irp.reporting.report import Table, render, write_masked
from models import Incident
from models.base import utcnow
from models.enums import IncidentStatus
from models.intake import INTAKE_MODELS
from models.plan import Plan

ENDED = (IncidentStatus.closed, IncidentStatus.stopped, IncidentStatus.rejected)


@dataclass
class DrillRecord:
    """The drill record as written: Markdown and HTML with personal data masked."""

    markdown: str
    html: str
    folder: Path

    @property
    def markdown_path(self) -> Path:
        return self.folder / "drill-record.md"


def write_record(plan: Plan, incident: Incident, card: Scorecard, reports_dir: Path) -> DrillRecord:
    """Write scorecard.csv and drill-record.md/.html under reports_dir/<incident-id>/, masked
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
    context: dict[str, object] = {
        "title": f"Drill record {incident.id} ({scenario})",
        "header": Table.of(header),
        "people": ", ".join(card.participants) or "none",
        "groups": ", ".join(card.groups) or "none",
        "scores": Table.of(card.scores),
        "gaps": card.gaps,
        "follow_ups": Table.of(follow),
    }
    files = {
        "scorecard.csv": card.scores.to_csv(index=False),
        "drill-record.md": render("drill-record.md", context),
        "drill-record.html": render("drill-record.html", context),
    }
    folder = reports_dir / incident.id
    written = write_masked(folder, files, plan_redactor(plan))
    return DrillRecord(written["drill-record.md"], written["drill-record.html"], folder)


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
    for itype in INTAKE_MODELS:
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
