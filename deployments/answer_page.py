"""The page a signed link opens, on the webhook app: one tap from a phone.

A gate's link: GET shows what is asked (the incident's title masked, the gate's question, who
answers) and never acts; the form POSTs the token in its body, and that POST answers the gate
the way `irp approve --code` does (the run checks the token and spends it). A manual task's
link: GET shows the task (title, instructions) and a form (outcome, note, evidence) whose POST
answers it the way `irp tasks done --code` does. The token is in the GET's path only: the
access log line is filtered so it never shows there.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from irp.alerts.storable import BodyError, decode_form
from irp.db import session_scope
from irp.errors import GateRefused, IrpError, TaskRefused
from irp.gates import service as gates
from irp.identity import service as identity
from irp.identity import tasks as task_proof
from irp.identity.people import person_name
from irp.incidents import service as incidents
from irp.plan.loader import plan_for
from irp.redact import plan_redactor
from irp.response import manual
from models import Incident, OneTimeCode
from models.base import utcnow
from models.manual_task import TaskStatus
from models.plan import Plan

PAGE_DECISIONS = ("approve", "reject")
PAGE_OUTCOMES: dict[manual.Outcome, str] = {
    "done": "Done",
    "failed": "Failed",
    "not_applicable": "Not applicable",
}
MAX_FORM_BYTES = 16_384
MAX_COMMENT = 4000
MAX_EVIDENCE = 1000


@dataclass(frozen=True)
class Asked:
    """What a valid, unspent link asks, for the page."""

    incident_id: str
    title: str
    gate_title: str
    question: str
    person: str
    person_name: str


@dataclass(frozen=True)
class TaskAsked:
    """The open task a valid, unspent link answers, for the page."""

    incident_id: str
    title: str
    task_id: int
    task_title: str
    instructions: str
    needs_evidence: bool
    person: str
    person_name: str


class LinkProblem(Exception):
    """Why a link cannot answer (forged, spent, expired, its round over), with the status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def _asked(token: str) -> Asked | TaskAsked:
    """The open question or task a link answers; LinkProblem when it is forged, spent,
    expired, or its round or task is over."""
    with session_scope() as session:
        row = identity.link_row(session, token)
        if row is None:
            raise LinkProblem(404, "This link is not valid.")
        if row.used_at is not None:
            raise LinkProblem(410, "This link was already used.")
        if utcnow() >= row.expires_at:
            raise LinkProblem(410, "This link has expired.")
        incident = incidents.get_incident(session, row.incident_id)
        plan = plan_for(incident)
        title = plan_redactor(plan).redact(incident.summary)
        if row.subject.startswith(task_proof.SUBJECT_PREFIX):
            return _task_asked(session, row, plan, title)
        return _gate_asked(session, row, incident, plan, title)


def _gate_asked(
    session: Session, row: OneTimeCode, incident: Incident, plan: Plan, title: str
) -> Asked:
    gate = row.subject.removeprefix("gate:")
    try:
        waiting = gates.waiting_gate(session, incident)
    except IrpError:
        raise LinkProblem(409, "This question is no longer open.") from None
    if waiting.gate != gate or waiting.round != row.round:
        raise LinkProblem(409, "This question is no longer open (a newer round was sent).")
    policy = plan.gates[gate]
    return Asked(
        incident.id,
        title,
        policy.title,
        policy.question,
        row.person,
        person_name(plan, row.person),
    )


def _task_asked(session: Session, row: OneTimeCode, plan: Plan, title: str) -> TaskAsked:
    task = manual.get_task(session, int(row.subject.removeprefix(task_proof.SUBJECT_PREFIX)))
    if task.status is not TaskStatus.open:
        raise LinkProblem(409, "This task is answered already.")
    assert task.id is not None
    return TaskAsked(
        task.incident_id,
        title,
        task.id,
        task.title,
        plan_redactor(plan).redact(task.instructions),
        "evidence" in task.needs,
        row.person,
        person_name(plan, row.person),
    )


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(doc, status, headers={"Cache-Control": "no-store"})


def _form(token: str, about: str, fields: str, person: str) -> str:
    """The page's form: what is asked, who answers, the token in the body (a POST acts)."""
    e = html.escape
    return (
        f"{about}<p>Answering as {e(person)}.</p>"
        f'<form method="post" action="{identity.LINK_PATH}">'
        f'<input type="hidden" name="token" value="{e(token)}">{fields}</form>'
    )


def _gate_form(token: str, asked: Asked) -> str:
    e = html.escape
    choices = "".join(
        f'<p><button name="decision" value="{d}" type="submit">{d.capitalize()}</button></p>'
        for d in PAGE_DECISIONS
    )
    about = f"<p>{e(asked.incident_id)}: {e(asked.title)}</p><p><b>{e(asked.question)}</b></p>"
    fields = (
        f'<p><textarea name="comment" maxlength="{MAX_COMMENT}" placeholder="Why (goes on the '
        f'timeline)"></textarea></p>{choices}'
    )
    return _form(token, about, fields, asked.person_name)


def _task_form(token: str, asked: TaskAsked) -> str:
    e = html.escape
    choices = "".join(
        f'<p><button name="outcome" value="{o}" type="submit">{e(label)}</button></p>'
        for o, label in PAGE_OUTCOMES.items()
    )
    needs = " (needed to answer done)" if asked.needs_evidence else ""
    about = (
        f"<p>{e(asked.incident_id)}: {e(asked.title)}</p>"
        f"<p><b>Task {asked.task_id}: {e(asked.task_title)}</b></p><p>{e(asked.instructions)}</p>"
    )
    fields = (
        f'<p><textarea name="note" maxlength="{MAX_COMMENT}" required placeholder="What was '
        f'done (goes on the timeline)"></textarea></p><p><input name="evidence" '
        f'maxlength="{MAX_EVIDENCE}" placeholder="Evidence reference{needs}"></p>{choices}'
    )
    return _form(token, about, fields, asked.person_name)


def register_answer_pages(app: FastAPI) -> None:
    """GET /answer/{token} (shows) and POST /answer (acts) on the webhook app."""
    identity.hide_codes_from(logging.getLogger("uvicorn.access"))

    @app.get(
        f"{identity.LINK_PATH}/{{token}}", response_class=HTMLResponse, include_in_schema=False
    )
    async def show(token: str) -> HTMLResponse:
        try:
            asked = await run_in_threadpool(_asked, token)
        except LinkProblem as problem:
            return _page("Answer link", f"<p>{html.escape(str(problem))}</p>", problem.status)
        if isinstance(asked, TaskAsked):
            return _page(f"Task {asked.task_id}", _task_form(token, asked))
        return _page(asked.gate_title, _gate_form(token, asked))

    @app.post(identity.LINK_PATH, response_class=HTMLResponse, include_in_schema=False)
    async def answer(request: Request) -> HTMLResponse:
        body = await request.body()
        try:
            form = (
                decode_form(body[: MAX_FORM_BYTES + 1]).data
                if len(body) <= MAX_FORM_BYTES
                else None
            )
        except BodyError:
            form = None
        if not isinstance(form, dict):
            return _page("Bad request", "<p>body: not a form</p>", 400)
        fields = {k: str(v) for k, v in form.items()}
        token = fields.get("token", "")
        if not token:
            return _bad("token")
        try:
            asked = await run_in_threadpool(_asked, token)
            bad = _invalid(asked, fields)
            if bad:
                return _bad(bad)
            said = await run_in_threadpool(_answer, asked, token, fields)
        except LinkProblem as problem:
            return _page("Answer link", f"<p>{html.escape(str(problem))}</p>", problem.status)
        except (GateRefused, TaskRefused) as refused:
            return _page("Refused", f"<p>{html.escape(str(refused))}</p>", 403)
        except IrpError as exc:
            return _page("Not recorded", f"<p>{html.escape(str(exc))}</p>", 409)
        done = f"<p>{html.escape(said)} by {html.escape(asked.person_name)}: on the timeline.</p>"
        return _page("Recorded", done)


def _bad(field: str) -> HTMLResponse:
    return _page("Bad request", f"<p>{field}: missing or invalid</p>", 422)


def _invalid(asked: Asked | TaskAsked, fields: dict[str, str]) -> str:
    """The first field the answer lacks or gets wrong, else ""."""
    get = fields.get
    checks: tuple[tuple[str, bool], ...]
    if isinstance(asked, TaskAsked):
        checks = (
            ("outcome", get("outcome") not in PAGE_OUTCOMES),
            ("note", not get("note", "").strip() or len(get("note", "")) > MAX_COMMENT),
            ("evidence", len(get("evidence", "")) > MAX_EVIDENCE),
        )
    else:
        checks = (
            ("decision", get("decision") not in PAGE_DECISIONS),
            ("comment", len(get("comment", "")) > MAX_COMMENT),
        )
    return next((field for field, bad in checks if bad), "")


def _answer(asked: Asked | TaskAsked, token: str, fields: dict[str, str]) -> str:
    """Answer with the token as the code, as `irp approve` / `irp tasks` do; what was said."""
    from deployments.runs import answer_gate
    from deployments.task_answers import answer as answer_task

    if isinstance(asked, TaskAsked):
        outcome = next(o for o in PAGE_OUTCOMES if o == fields["outcome"])
        given = manual.TaskAnswer(
            outcome,
            asked.person,
            fields["note"],
            fields.get("evidence") or None,
            code=token,
        )
        answer_task(asked.task_id, given)
        return outcome
    answer_gate(
        asked.incident_id,
        decision=fields["decision"],
        approver=asked.person,
        comment=fields.get("comment", ""),
        priority=None,
        code=token,
    )
    return fields["decision"]
