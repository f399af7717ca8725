"""PLAN 4.6 in the flow: each acting group writes its part of the report through a typed form
(the gates' wait-then-suspend machinery), then leadership accepts the report at a gate; a
rejection sends it back to the groups for a revision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import get_run_logger
from prefect.input import RunInput
from prefect.runtime import flow_run
from pydantic import Field, create_model

from flows import gates
from flows.gates import may_suspend, wait_for
from irp.db import session_scope
from irp.duties import report_parts as parts
from irp.gates.machine import GateOutcome
from irp.redact import plan_redactor
from models.plan import Plan
from tasks.board import publish_board
from tasks.notify import announce_gate

PARTS_GATE = "report_parts"
"""What the drill policy is asked about (a drill scenario may leave it to people)."""


class ReportPartInput(RunInput):
    """The form a group answers in the Prefect UI; `irp report-part` sends the same fields."""

    group: str = Field(description="Your group id")
    author: str = Field(description="Your role id")
    did: str = Field(max_length=4000, description="What your group did")
    cause: str = Field(max_length=4000, description="The cause, as your group sees it")
    lessons: str = Field(max_length=4000, description="Lessons and improvements")


def part_form(plan: Plan, groups: list[str], description: str) -> type[ReportPartInput]:
    """This wait's form: the group and author are choices of those still to write, so the UI
    offers selects and Prefect's server refuses anyone else."""
    authors = [r for g in groups for r in parts.writers(plan, g)]
    form = create_model(
        ReportPartInput.__name__,
        __base__=ReportPartInput,
        group=gates.select_field(groups, "Your group", default=groups[0]),
        author=gates.select_field(list(dict.fromkeys(authors)), "Your role id"),
    )
    return form.with_initial_data(description=description)


def write_and_accept(
    incident_id: str, plan: Plan, auto_decides: Callable[[str], bool]
) -> tuple[str, GateOutcome]:
    """Collect the parts of the current revision, then ask leadership to accept; a rejection
    with revisions left starts the next one. Returns the last gate asked and its outcome
    (proceed: accepted; reject or stop: the lifecycle ends the incident)."""
    while True:
        with session_scope() as session:
            revision = parts.current_revision(session, incident_id, plan)
        _collect(incident_id, plan, revision, auto=auto_decides(PARTS_GATE))
        gate = plan.report.gate_for(revision)
        outcome = gates.decide(
            incident_id,
            gate,
            plan,
            auto_approve=auto_decides(plan.report.acceptance_gate),
            context=_parts_text(incident_id, plan),
        )
        if outcome is not GateOutcome.reject or revision > plan.report.max_revisions:
            return gate, outcome
        parts.record_sent_back(incident_id, revision)


def _collect(incident_id: str, plan: Plan, revision: int, *, auto: bool) -> None:
    """Wait until every acting group wrote its part of `revision`, or the plan's time is up."""
    with session_scope() as session:
        groups = parts.missing(session, incident_id, plan, revision)
        since = parts.asked_since(session, incident_id, revision)
    if not groups:
        return
    if auto:
        parts.write_drill_parts(incident_id, plan, revision)
        publish_board(plan)
        return
    timeout = plan.report.parts_timeout_s
    suspend = may_suspend(timeout)
    if since is None:
        _announce(incident_id, plan, revision, groups)
        since = parts.record_asked(incident_id, revision, groups, flow_run.get_id())
        publish_board(plan)
    while groups:
        key = f"report-part-{revision}-{parts.answers_so_far(incident_id, revision) + 1}"
        form = part_form(plan, groups, _form_text(incident_id, plan, revision, groups))
        answer = wait_for(form, key, since, timeout, suspend=suspend)
        if answer is None:
            parts.record_missing(incident_id, revision, groups)
            return
        given = parts.PartAnswer(
            answer.group, answer.author, answer.did, answer.cause, answer.lessons
        )
        refused = parts.accept(incident_id, plan, revision, given)
        if refused:
            get_run_logger().warning(refused)
        publish_board(plan)
        with session_scope() as session:
            groups = parts.missing(session, incident_id, plan, revision)


def _announce(incident_id: str, plan: Plan, revision: int, groups: list[str]) -> None:
    """Tell each group's people, over their route, that their part is due."""
    writers = [r for g in groups for r in parts.writers(plan, g)]
    extra: dict[str, Any] = {"gate": PARTS_GATE, "round": revision, "deciders": writers}
    extra |= {"gate_title": "Write your part of the post-incident report"}
    extra["question"] = "What did your group do, what was the cause, what are the lessons?"
    announce_gate(incident_id, "gate_waiting", plan, extra=extra, audiences=writers)


def _form_text(incident_id: str, plan: Plan, revision: int, groups: list[str]) -> str:
    titles = ", ".join(f"`{g}` ({plan.organisation.groups[g].title})" for g in groups)
    text = (
        f"### Post-incident report - {incident_id} (revision {revision})\n\n"
        f"**Still to write their part:** {titles}.\n\n"
        f"From a shell: `irp report-part {incident_id} --group <group> --by <role> "
        f'--did "..." --cause "..." --lessons "..."`'
    )
    return plan_redactor(plan).redact(text)


def _parts_text(incident_id: str, plan: Plan) -> str:
    """The parts leadership is asked to accept, as the acceptance form shows them (masked)."""
    with session_scope() as session:
        written = parts.latest_parts(session, incident_id)
    lines = [
        f"- **{p.group}** (revision {p.revision}, by {p.author}"
        + (", drill policy" if p.by_drill_policy else "")
        + f"): did: {p.did} / cause: {p.cause} / lessons: {p.lessons}"
        for p in written
    ]
    text = "**Parts written:**\n" + ("\n".join(lines) or "none")
    return plan_redactor(plan).redact(text)
