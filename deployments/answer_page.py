"""The page a gate's signed link opens, on the webhook app: one tap from a phone.

GET shows what is asked (the incident's title masked, the gate's question, who answers) and
never acts; the form POSTs the token in its body, and that POST answers the gate the way
`irp approve --code` does (the run checks the token and spends it). The token is in the GET's
path only: the access log line is filtered so it never shows there.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from irp.alerts.storable import BodyError, decode_form
from irp.db import session_scope
from irp.errors import GateRefused, IrpError
from irp.gates import service as gates
from irp.identity import service as identity
from irp.identity.people import person_name
from irp.incidents import service as incidents
from irp.plan.loader import plan_for
from irp.redact import plan_redactor
from models.base import utcnow

PAGE_DECISIONS = ("approve", "reject")
MAX_FORM_BYTES = 16_384
MAX_COMMENT = 4000


@dataclass(frozen=True)
class Asked:
    """What a valid, unspent link asks, for the page."""

    incident_id: str
    title: str
    gate_title: str
    question: str
    person: str
    person_name: str


class LinkProblem(Exception):
    """Why a link cannot answer (forged, spent, expired, its round over), with the status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def _asked(token: str) -> Asked:
    """The open question a link answers; LinkProblem when it is forged, spent, expired or
    its round is over."""
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
            plan_redactor(plan).redact(incident.summary),
            policy.title,
            policy.question,
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


def _form(token: str, asked: Asked) -> str:
    e = html.escape
    choices = "".join(
        f'<p><button name="decision" value="{d}" type="submit">{d.capitalize()}</button></p>'
        for d in PAGE_DECISIONS
    )
    return (
        f"<p>{e(asked.incident_id)}: {e(asked.title)}</p><p><b>{e(asked.question)}</b></p>"
        f"<p>Answering as {e(asked.person_name)}.</p>"
        f'<form method="post" action="{identity.LINK_PATH}">'
        f'<input type="hidden" name="token" value="{e(token)}">'
        f'<p><textarea name="comment" maxlength="{MAX_COMMENT}" placeholder="Why (goes on the '
        f'timeline)"></textarea></p>{choices}</form>'
    )


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
            return _page("Gate link", f"<p>{html.escape(str(problem))}</p>", problem.status)
        return _page(asked.gate_title, _form(token, asked))

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
        token, decision = str(form.get("token", "")), str(form.get("decision", ""))
        comment = str(form.get("comment", ""))
        for field, bad in (
            ("token", not token),
            ("decision", decision not in PAGE_DECISIONS),
            ("comment", len(comment) > MAX_COMMENT),
        ):
            if bad:
                return _page("Bad request", f"<p>{field}: missing or invalid</p>", 422)
        try:
            asked = await run_in_threadpool(_asked, token)
            await run_in_threadpool(_answer, asked, token, decision, comment)
        except LinkProblem as problem:
            return _page("Gate link", f"<p>{html.escape(str(problem))}</p>", problem.status)
        except GateRefused as refused:
            return _page("Refused", f"<p>{html.escape(str(refused))}</p>", 403)
        except IrpError as exc:
            return _page("Not recorded", f"<p>{html.escape(str(exc))}</p>", 409)
        done = (
            f"<p>{html.escape(decision)} by {html.escape(asked.person_name)}: on the timeline.</p>"
        )
        return _page("Recorded", done)


def _answer(asked: Asked, token: str, decision: str, comment: str) -> None:
    from deployments.runs import answer_gate

    answer_gate(
        asked.incident_id,
        decision=decision,
        approver=asked.person,
        comment=comment,
        priority=None,
        code=token,
    )
