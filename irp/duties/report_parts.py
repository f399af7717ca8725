"""Each acting group's part of the post-incident report (PLAN 4.6) and the report's revisions.

The groups that signed off their cleanup each write what they did, the cause and their
lessons; leadership then accepts the report at the plan's acceptance gate. A rejection sends
the report back: every group writes its part again as the next revision (the report shows
each group's latest). Functions without a `session` are one transaction each, for the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from irp.db import session_scope
from irp.duties.signoffs import acting_groups
from irp.errors import InvalidInput, NotFound
from irp.gates import service as gates
from irp.gates.machine import GateOutcome, resolve_role
from irp.incidents import timeline
from irp.response import actions
from models import Incident, ReportPart, TimelineEvent
from models.enums import Stage
from models.plan import Plan

ASKED = "report_parts_waiting"
PART_MAX_CHARS = 4000
ANSWER_KINDS = ("report_part_written", "report_part_refused")


@dataclass(frozen=True)
class PartAnswer:
    """A group's part as a person gives it (the UI form or `irp report-part`)."""

    group: str
    author: str
    did: str
    cause: str
    lessons: str


def current_revision(session: Session, incident_id: str, plan: Plan) -> int:
    """1, plus one for every revision leadership rejected."""
    revision = 1
    while _rejected(session, incident_id, plan.report.gate_for(revision)):
        revision += 1
    return revision


def _rejected(session: Session, incident_id: str, gate: str) -> bool:
    decision = gates.final_decision(session, incident_id, gate)
    return decision is not None and decision.outcome == GateOutcome.reject


def parts(session: Session, incident_id: str, revision: int | None = None) -> list[ReportPart]:
    query = select(ReportPart).where(ReportPart.incident_id == incident_id)
    if revision is not None:
        query = query.where(ReportPart.revision == revision)
    return list(session.exec(query.order_by(col(ReportPart.id))))


def latest_parts(session: Session, incident_id: str) -> list[ReportPart]:
    """Each group's latest part (what the report shows), in the order they were first written."""
    latest: dict[str, ReportPart] = {}
    for part in parts(session, incident_id):
        if part.group not in latest or part.revision > latest[part.group].revision:
            latest[part.group] = part
    return list(latest.values())


def missing(session: Session, incident_id: str, plan: Plan, revision: int) -> list[str]:
    """The acting groups that have not written their part of `revision` yet."""
    written = {p.group for p in parts(session, incident_id, revision)}
    return [g for g in acting_groups(session, incident_id, plan) if g not in written]


def writers(plan: Plan, group: str) -> list[str]:
    """Who may write a group's part: its leader, deputy and members."""
    spec = plan.organisation.groups[group]
    return [r for r in (spec.leader, spec.deputy, *spec.members) if r]


@dataclass(frozen=True)
class Waiting:
    """The report parts an incident waits for: which revision, from which groups, since when."""

    revision: int
    groups: list[str]
    since: datetime


def asked_since(session: Session, incident_id: str, revision: int) -> datetime | None:
    """When the groups were asked for `revision` (None: not yet; a resumed run asks once)."""
    query = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind == ASKED)
        .order_by(col(TimelineEvent.id))
    )
    for event in session.exec(query):
        if int(event.data.get("revision", 0)) == revision:
            return event.at
    return None


def waiting(session: Session, plan: Plan, incident: Incident) -> Waiting:
    """The parts the incident waits for now (NotFound when it waits for none)."""
    revision = current_revision(session, incident.id, plan)
    since = asked_since(session, incident.id, revision)
    groups = missing(session, incident.id, plan, revision)
    if since is None or not groups or incident.closed_at is not None:
        raise NotFound(f"incident {incident.id} is not waiting for report parts")
    return Waiting(revision, groups, since)


def record_asked(
    incident_id: str, revision: int, groups: list[str], flow_run_id: str | None
) -> datetime:
    """The groups were told to write their parts: the wait starts now."""
    with session_scope() as session:
        event = timeline.record(
            session,
            incident_id,
            Stage.post_incident_report,
            ASKED,
            f"Report revision {revision}: waiting for the parts of {', '.join(groups)}",
            data={"revision": revision, "groups": groups, "flow_run_id": flow_run_id},
        )
        return event.at


def answers_so_far(incident_id: str, revision: int) -> int:
    """Parts written or refused in `revision`: numbers each wait so a resumed run finds its
    answer under the same key."""
    with session_scope() as session:
        query = select(TimelineEvent).where(
            TimelineEvent.incident_id == incident_id, col(TimelineEvent.kind).in_(ANSWER_KINDS)
        )
        return sum(1 for e in session.exec(query) if int(e.data.get("revision", 0)) == revision)


def admit(session: Session, plan: Plan, incident_id: str, revision: int, answer: PartAnswer) -> str:
    """The author's role when they may write this group's part now; otherwise InvalidInput
    naming the field (a refusal from the flow is also put on the timeline by `accept`)."""
    open_groups = missing(session, incident_id, plan, revision)
    if answer.group not in open_groups:
        wanted = ", ".join(open_groups) or "none"
        raise InvalidInput(
            f"--group: {answer.group!r} has no part to write in revision {revision} "
            f"(waiting for: {wanted})"
        )
    role = resolve_role(plan, answer.author)
    allowed = writers(plan, answer.group)
    if role not in allowed:
        raise InvalidInput(
            f"--by: {answer.author!r} is not in group {answer.group!r} (may write: "
            f"{', '.join(allowed)})"
        )
    for field in ("did", "cause", "lessons"):
        text = getattr(answer, field)
        if not text.strip() or len(text) > PART_MAX_CHARS:
            raise InvalidInput(f"--{field}: 1 to {PART_MAX_CHARS} characters (the report shows it)")
    return role


def accept(incident_id: str, plan: Plan, revision: int, answer: PartAnswer) -> str | None:
    """Keep a person's part (None), or put its refusal on the timeline and return why."""
    with session_scope() as session:
        try:
            role = admit(session, plan, incident_id, revision, answer)
        except InvalidInput as refused:
            timeline.record(
                session,
                incident_id,
                Stage.post_incident_report,
                "report_part_refused",
                f"Report part for {answer.group} by {answer.author} refused: {refused}",
                actor=answer.author,
                data={"revision": revision, "group": answer.group, "reason": str(refused)},
            )
            return str(refused)
        _keep(session, incident_id, revision, answer, role, by_drill_policy=False)
    return None


def write_drill_parts(incident_id: str, plan: Plan, revision: int) -> None:
    """In a drill the drill policy writes the missing parts, marked as its own: what the
    group's actions did, and no cause or lessons, since no person wrote any."""
    with session_scope() as session:
        runs = actions.runs(session, incident_id)
        for group in missing(session, incident_id, plan, revision):
            did = "; ".join(f"{r.title}: {r.status}" for r in runs if r.group == group)
            answer = PartAnswer(
                group,
                plan.drill.decider,
                did=f"Drill (written by the drill policy): {did}",
                cause="None given: written by the drill policy, not a person.",
                lessons="None given: written by the drill policy, not a person.",
            )
            _keep(session, incident_id, revision, answer, plan.drill.decider, by_drill_policy=True)


def _keep(
    session: Session,
    incident_id: str,
    revision: int,
    answer: PartAnswer,
    author: str,
    *,
    by_drill_policy: bool,
) -> None:
    session.add(
        ReportPart(
            incident_id=incident_id,
            group=answer.group,
            revision=revision,
            author=author,
            by_drill_policy=by_drill_policy,
            did=answer.did,
            cause=answer.cause,
            lessons=answer.lessons,
        )
    )
    timeline.record(
        session,
        incident_id,
        Stage.post_incident_report,
        "report_part_written",
        f"Report part of {answer.group} (revision {revision}) written by {author}"
        + (" (drill policy)" if by_drill_policy else ""),
        actor=author,
        data={"revision": revision, "group": answer.group, "drill_policy": by_drill_policy},
    )


def record_missing(incident_id: str, revision: int, groups: list[str]) -> None:
    """The wait for parts ran out: the report says whose part is missing; leadership decides."""
    with session_scope() as session:
        timeline.record(
            session,
            incident_id,
            Stage.post_incident_report,
            "report_parts_missing",
            f"Report revision {revision}: no part from {', '.join(groups)} before the deadline",
            data={"revision": revision, "groups": groups},
        )


def record_sent_back(incident_id: str, revision: int) -> None:
    """Leadership rejected `revision`: every acting group writes its part again."""
    with session_scope() as session:
        timeline.record(
            session,
            incident_id,
            Stage.post_incident_report,
            "report_sent_back",
            f"Report revision {revision} rejected: sent back to the groups for revision "
            f"{revision + 1}",
            data={"revision": revision},
        )
