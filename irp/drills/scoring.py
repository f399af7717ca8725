"""Drills: score the run against the plan's targets, keep the evidence.

The scorecard is computed from the same records as the post-incident report (timeline, gate
decisions, action runs, allocations), so an auditor can trace every line back to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlmodel import Session, col, delete, select

from irp.gates import service as gates
from irp.gates.machine import FINAL_OUTCOMES
from irp.reporting import report as reporting
from irp.response import actions, logistics, manual
from models import DrillScore, Incident, ManualTask
from models.plan import Plan
from models.plan_drills import DrillTargets

SCORE_COLUMNS = ["kind", "name", "target_s", "actual_s", "result", "note"]
AD_HOC = "ad-hoc"


@dataclass
class Scorecard:
    """Targets met or missed, what went wrong, who took part, what to do about it."""

    scores: pd.DataFrame
    gaps: list[str] = field(default_factory=list)
    follow_ups: list[tuple[str, str]] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    @property
    def met(self) -> int:
        return int((self.scores["result"] == "met").sum())

    @property
    def total(self) -> int:
        return len(self.scores)


def score_stages(durations: pd.DataFrame, targets: DrillTargets) -> list[dict[str, object]]:
    """Each targeted stage's duration against its target; a stage never completed misses."""
    seconds = {
        str(row.stage): row.seconds for row in durations.itertuples() if pd.notna(row.seconds)
    }
    rows: list[dict[str, object]] = []
    for stage, target in targets.stages.items():
        actual = seconds.get(stage.value)
        if actual is None:
            rows.append(_row("stage", stage.value, target, None, "not reached", "never completed"))
        else:
            result = "met" if float(actual) <= target else "missed"
            rows.append(_row("stage", stage.value, target, float(actual), result, ""))
    return rows


def score_gates(
    gate_rows: list[dict[str, object]], targets: DrillTargets
) -> list[dict[str, object]]:
    """Time from the first request to the decision that settled the gate; a timeout misses."""
    rows: list[dict[str, object]] = []
    for gate, target in targets.gates.items():
        mine = [g for g in gate_rows if g["gate"] == gate]
        if not mine:
            continue  # this type never asks this gate
        first: datetime = min(g["requested_at"] for g in mine)  # type: ignore[type-var, assignment]
        final = [g for g in mine if g["accepted"] and g["outcome"] in FINAL_OUTCOMES]
        if not final:
            rows.append(_row("gate", gate, target, None, "not reached", "never settled"))
            continue
        settled = final[0]
        actual = round((settled["decided_at"] - first).total_seconds(), 3)  # type: ignore[operator]
        if settled["decision"] == "timeout":
            note = f"nobody answered: timed out -> {settled['outcome']}"
            rows.append(_row("gate", gate, target, actual, "missed", note))
            continue
        result = "met" if actual <= target else "missed"
        rows.append(_row("gate", gate, target, actual, result, f"by {settled['approver']}"))
    return rows


def score_tasks(answered: list[ManualTask]) -> list[dict[str, object]]:
    """A drill with people: each task answered by a person, from opened to answered, against
    its due time (tasks the drill policy answered measure software, not people: not scored)."""
    rows: list[dict[str, object]] = []
    for task in answered:
        assert task.answered_at is not None
        due = (task.due_at - task.opened_at).total_seconds()
        actual = round((task.answered_at - task.opened_at).total_seconds(), 3)
        result = "met" if actual <= due else "missed"
        note = f"{task.status.value} by {task.answered_by}"
        rows.append(_row("task", task.key, due, actual, result, note))
    return rows


def find_gaps(
    plan: Plan,
    measures: pd.DataFrame,
    gate_rows: list[dict[str, object]],
    shortfalls: list[tuple[str, int]],
    scores: list[dict[str, object]],
    faults: dict[str, int],
) -> tuple[list[str], list[tuple[str, str]]]:
    """Gaps (what went wrong) and follow-ups as (owner, what to do)."""
    gaps: list[str] = []
    follow: list[tuple[str, str]] = []
    commander = plan.organisation.commander
    for row in measures.itertuples():
        if row.status == "failed":
            gaps.append(f"Action '{row.action}' failed after {row.attempts} attempts")
            follow.append((str(row.group), f"Make '{row.title}' work reliably or add a fallback"))
        elif int(row.attempts) > 1:
            gaps.append(f"Action '{row.action}' needed {row.attempts} attempts")
            follow.append((str(row.group), f"Check the reliability of '{row.title}'"))
    ran = set(measures.loc[measures["status"] != "not_run", "action"])
    for action in sorted(set(faults) - ran):
        gaps.append(f"Injected fault on '{action}' had no effect: the action did not run")
        follow.append((commander, f"Review the drill scenario's fault on '{action}'"))
    for gate in gate_rows:
        if gate["decision"] == "timeout":
            gaps.append(
                f"Gate '{gate['gate']}' round {gate['round']} timed out ({gate['outcome']})"
            )
            follow.append((commander, f"Check the reachability of gate '{gate['gate']}' deciders"))
    for resource, missing in shortfalls:
        gaps.append(f"Resource shortfall: {missing} x {resource}")
        owner = plan.resources[resource].owner if resource in plan.resources else "logistics"
        follow.append((owner, f"Extend the {resource} inventory or agree a supplier"))
    for score in scores:
        if score["result"] != "met" and score["kind"] == "stage":
            gaps.append(f"Stage '{score['name']}' {score['result']} its target")
            follow.append((commander, f"Review what slowed stage '{score['name']}'"))
    return gaps, follow


def build_scorecard(session: Session, plan: Plan, incident: Incident) -> Scorecard:
    """Score one drill incident from the database against its scenario's targets."""
    scenario = incident.options.get("scenario")
    targets = plan.drills.targets_for(scenario)
    events = reporting.timeline_frame(session, incident.id)
    durations = reporting.stage_durations(events)
    measures = reporting.measures_frame(session, incident.id)
    decided = gates.decisions(session, incident.id)
    gate_rows: list[dict[str, object]] = [
        {
            "gate": d.gate,
            "round": d.round,
            "decision": d.decision,
            "outcome": d.outcome,
            "approver": d.approver,
            "role": d.approver_role,
            "accepted": d.accepted,
            "requested_at": d.requested_at,
            "decided_at": d.decided_at,
        }
        for d in decided
    ]
    held = logistics.allocations(session, incident.id)
    shortfalls = [(a.resource, a.shortfall) for a in held if a.shortfall]
    answered = [t for t in manual.list_tasks(session, incident.id) if t.answered_role]
    scores = score_stages(durations, targets) + score_gates(gate_rows, targets)
    scores += score_tasks(answered)
    spec = plan.drills.scenarios.get(scenario) if scenario else None
    faults = dict(spec.faults) if spec else {}
    gaps, follow = find_gaps(plan, measures, gate_rows, shortfalls, scores, faults)
    people = (
        [incident.reporter]
        + [
            f"{d.approver} ({d.approver_role})" if d.approver_role else d.approver
            for d in decided
            if d.accepted and d.decision != "timeout"
        ]
        + [f"{t.answered_by} (task {t.key})" for t in answered]
    )
    roles = plan.organisation.roles
    groups = {r.group for r in actions.runs(session, incident.id)}
    groups |= {plan.resources[a.resource].owner for a in held if a.resource in plan.resources}
    groups |= {roles[d.approver_role].group for d in decided if d.approver_role in roles}
    groups |= {t.group for t in answered}
    return Scorecard(
        scores=pd.DataFrame(scores, columns=SCORE_COLUMNS),
        gaps=gaps,
        follow_ups=list(dict.fromkeys(follow)),
        participants=list(dict.fromkeys(people)),
        groups=sorted(groups),
    )


def save_scores(session: Session, incident: Incident, card: Scorecard) -> None:
    """Replace the incident's scorecard rows (a re-run scores again, it does not add)."""
    session.exec(delete(DrillScore).where(col(DrillScore.incident_id) == incident.id))
    scenario = str(incident.options.get("scenario") or AD_HOC)

    def line(kind: str, name: str, result: str, note: str, target: object, actual: object) -> None:
        session.add(
            DrillScore(
                incident_id=incident.id,
                scenario=scenario,
                incident_type=incident.type.value,
                held_at=incident.detected_at,
                kind=kind,
                name=name[:80],
                target_s=_num(target),
                actual_s=_num(actual),
                met=result == "met",
                result=result,
                note=note[:1000],
            )
        )

    for row in card.scores.itertuples():
        line(
            str(row.kind), str(row.name), str(row.result), str(row.note), row.target_s, row.actual_s
        )
    for gap in card.gaps:
        line("gap", gap, "gap", gap, None, None)
    session.flush()


def _row(
    kind: str, name: str, target: float, actual: float | None, result: str, note: str
) -> dict[str, object]:
    return {
        "kind": kind,
        "name": name,
        "target_s": target,
        "actual_s": actual,
        "result": result,
        "note": note,
    }


def _num(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def scores_since(session: Session, since: datetime) -> list[DrillScore]:
    query = select(DrillScore).where(col(DrillScore.held_at) >= since)
    return list(session.exec(query.order_by(col(DrillScore.held_at), col(DrillScore.id))))
