"""The alert webhook: Alertmanager, Grafana, CloudEvents and irp's generic endpoint in,
incidents and flow runs out.

Order of checks per request: a local demo answers loopback clients only -> size
(Content-Length, then the bytes actually read) -> auth (HMAC needs the raw body) -> content
type -> JSON or form -> the source's parser -> store, with a signed message's id (committed
together, before the 202) -> hand new incidents to the dispatcher. Errors are small JSON
objects naming the field; nothing a sender does can produce a stack trace or a 5xx.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.requests import ClientDisconnect

from deployments.answer_page import register_answer_pages
from deployments.dispatch import Dispatcher, DispatchFn, start_deployment
from deployments.webhook_auth import WebhookAuth, is_loopback, webhook_auth
from irp.alerts import ingest, replay
from irp.alerts.auth import GRAFANA_SIGNATURE_HEADER, SignedMessage
from irp.alerts.classify import ClassificationRule
from irp.alerts.delivery import CE_BATCH, CE_STRUCTURED, Delivery, HeaderError, read_delivery
from irp.alerts.parsers import (
    PARSERS,
    AlertParseError,
    GenericAlert,
    _AMBody,
    _CloudEvent,
    _GrafanaBody,
)
from irp.alerts.storable import BodyError, RawBody, decode_form, decode_json
from irp.db import get_engine, session_scope
from irp.notify import paging, worker
from irp.plan.loader import get_plan
from irp.settings import Settings, database_url_in_use, get_settings, point_prefect_at_stack

log = logging.getLogger("irp.webhook")

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES: dict[str, tuple[str, ...]] = {
    "alertmanager": (JSON,),
    "grafana": (JSON,),
    "cloudevents": (CE_STRUCTURED, CE_BATCH, JSON),
    "generic": (JSON, FORM),
}
BODY_MODELS: dict[str, type[BaseModel]] = {
    "alertmanager": _AMBody,
    "grafana": _GrafanaBody,
    "cloudevents": _CloudEvent,
    "generic": GenericAlert,
}
SUMMARIES = {
    "alertmanager": "Prometheus Alertmanager webhook (version 4)",
    "grafana": "Grafana alerting webhook",
    "cloudevents": "A CloudEvents 1.0 event: structured or batch JSON mode, or binary mode "
    "(`ce-*` headers, JSON data)",
    "generic": "irp's own alert format; Suricata EVE, Wazuh, Tencent Cloud, Aliyun "
    "CloudMonitor (form or JSON); anything else is stored unmapped",
}
RETRY_AFTER_S = "5"
SHUTDOWN_WAIT_S = 2.0


class Problem(BaseModel):
    """Every 4xx answer: what is wrong, and which field (a dotted path) when there is one."""

    detail: str
    field: str | None = None


class Accepted(BaseModel):
    """The 202 answer, sent only after the alerts are committed."""

    stored: int = Field(description="New alerts stored.")
    duplicates: int = Field(description="Alerts already stored (retries, re-sends).")
    resolved: int
    unmapped: int = Field(description="Stored, but no rule maps them: `irp alerts list`.")
    incidents_opened: list[str]
    incidents_attached: list[str]
    truncated: int = Field(description="Alerts the sender left out (`truncatedAlerts`).")
    notes: list[Problem] = Field(
        description="/alerts/generic: what was not understood in bodies stored unmapped."
    )


def delivery_gate() -> None:
    """Runs before every delivery; a no-op. Tests override it to fail a delivery on purpose
    (as a crashed receiver would) and watch the sender retry."""


def _problem(status: int, detail: str, field: str | None = None, **headers: str) -> JSONResponse:
    return JSONResponse(Problem(detail=detail, field=field).model_dump(), status, headers=headers)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (Content-Length can lie)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


Handler = Callable[[Request], Awaitable[JSONResponse]]
Store = Callable[[str, Delivery, RawBody | None, SignedMessage | None], ingest.IngestResult]


def _unauthorized(field: str | None) -> JSONResponse:
    challenge = {"WWW-Authenticate": "Bearer"}
    if field is None:
        return _problem(401, "unauthorized", None, **challenge)
    detail = (
        f"{field}: required with {GRAFANA_SIGNATURE_HEADER} (a signature without its time "
        "could be replayed for ever)"
    )
    return _problem(401, detail, field, **challenge)


def _receiver(
    source: str, auth: WebhookAuth, max_body: int, store: Store, dispatcher: Dispatcher
) -> Handler:
    allowed = CONTENT_TYPES[source]

    async def receive(request: Request) -> JSONResponse:
        if auth.open_demo and request.client is not None and not is_loopback(request.client.host):
            return _problem(403, "local demo: only loopback clients may send alerts")
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return _problem(400, "Content-Length: not a number", "Content-Length")
            if int(length) > max_body:
                return _problem(413, f"body: larger than {max_body} bytes", "body")
        try:
            body = await _read_limited(request, max_body)
        except ClientDisconnect:  # the sender gave up (its timeout); it retries, nothing stored
            return _problem(400, "body: the sender disconnected before sending it all", "body")
        if body is None:
            return _problem(413, f"body: larger than {max_body} bytes", "body")
        admission = auth.check(request.headers, body)
        if not admission.admitted:
            return _unauthorized(admission.field)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in allowed:
            return _problem(415, f"Content-Type: must be {' or '.join(allowed)}", "Content-Type")
        try:
            decoded = decode_form(body) if content_type == FORM else decode_json(body)
        except BodyError as exc:
            return _problem(400, f"body: {exc}", "body")
        try:
            delivery = read_delivery(source, decoded.data, content_type, request.headers)
        except HeaderError as exc:
            return _problem(400, str(exc), exc.field)
        except AlertParseError as exc:
            return _problem(422, str(exc), exc.field)
        raw = RawBody.of(body) if decoded.altered or content_type == FORM else None
        try:
            result = await run_in_threadpool(store, source, delivery, raw, admission.signed)
        except replay.Replayed:
            return _problem(
                409, "webhook-id: this message was already accepted (a replay)", "webhook-id"
            )
        dispatcher.submit(result.opened)
        notes = [Problem(detail=n.detail, field=n.field).model_dump() for n in delivery.notes]
        answer = {**result.as_dict(), "truncated": delivery.truncated, "notes": notes}
        return JSONResponse(answer, 202)

    return receive


def _responses() -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Body is not JSON (or a form), or a header is malformed or missing (a "
        "binary-mode CloudEvent's `ce-*` attributes); `field` names it.",
        401: "Authentication failed; `field` names a missing header when one is.",
        403: "Local demo: the client is not on this host.",
        409: "A Standard Webhooks message accepted before (same `webhook-id`): a replay.",
        413: "Body too large.",
        415: "Wrong Content-Type.",
        422: "Not a valid alert of this format; `field` names the problem.",
        503: "Storage unavailable; retry after `Retry-After` seconds.",
    }
    out: dict[int | str, dict[str, Any]] = {202: {"model": Accepted, "description": "Stored."}}
    out.update({code: {"model": Problem, "description": text} for code, text in described.items()})
    return out


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document plus each format's body schema (bodies are parsed by hand: HMAC
    needs the raw bytes)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for source, model in BODY_MODELS.items():
            name = f"{source.capitalize()}Body"
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
            ref = {"$ref": f"#/components/schemas/{name}"}
            shapes = {
                FORM: {"type": "object", "additionalProperties": {"type": "string"}},
                CE_BATCH: {"type": "array", "items": ref},
            }
            doc["paths"][f"/alerts/{source}"]["post"]["requestBody"] = {
                "required": True,
                "content": {c: {"schema": shapes.get(c, ref)} for c in CONTENT_TYPES[source]},
            }
        app.openapi_schema = doc
        return doc

    return build


def create_app(
    settings: Settings,
    *,
    dispatch: DispatchFn | None = None,
    rules: list[ClassificationRule] | None = None,
) -> FastAPI:
    """The webhook app; refuses (InvalidInput) to build without credentials unless a demo."""
    auth = webhook_auth(settings)
    rules = rules if rules is not None else get_plan(settings.plan_file).classification
    db_url = database_url_in_use(settings)
    get_engine(db_url)  # migrate now, not on the first alert
    dispatcher = Dispatcher(dispatch or start_deployment, db_url)

    sweeper = _Sweeper()

    def store(
        source: str, delivery: Delivery, raw: RawBody | None, signed: SignedMessage | None
    ) -> ingest.IngestResult:
        """One transaction: a replayed id stores nothing, a failed store remembers no id."""
        with session_scope(db_url) as session:
            if signed is not None:
                replay.remember_message(session, signed.message_id, signed.replayable_until)
                if sweeper.due():
                    replay.forget_expired(session)
            truncation = ingest.Truncation(delivery.truncated, source, delivery.group_key)
            result = ingest.ingest_alerts(
                session, delivery.alerts, rules, raw=raw, truncation=truncation
            )
            paged = paging.page_opened(session, result.opened)
        if paged:
            worker.kick()
        return result

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()
        worker.start(db_url)
        yield
        # Stopping must not wait out a dispatch stuck on an unreachable Prefect API: whatever
        # is still pending is found by the next start's sweep (dispatch is idempotent).
        await run_in_threadpool(dispatcher.stop, SHUTDOWN_WAIT_S)
        await run_in_threadpool(worker.stop, SHUTDOWN_WAIT_S)

    app = FastAPI(
        title="irp alert webhook",
        version="1",
        description="Alerts in, incidents out. Authenticate with `Authorization: Bearer`, "
        "Basic, Standard Webhooks signatures or Grafana's HMAC header.",
        lifespan=lifespan,
    )
    app.state.dispatcher = dispatcher

    @app.exception_handler(OperationalError)
    async def storage_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("storage unavailable: %s", type(exc.orig).__name__)
        return _problem(
            503, "storage unavailable, retry later", None, **{"Retry-After": RETRY_AFTER_S}
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        return _problem(422, f"{field}: {first.get('msg', 'invalid')}", field)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s while receiving an alert", type(exc).__name__)
        return _problem(
            503,
            "temporarily unable to accept alerts, retry later",
            None,
            **{"Retry-After": RETRY_AFTER_S},
        )

    @app.get("/healthz", summary="Liveness: the app answers and the database is reachable")
    def healthz() -> dict[str, Any]:
        with session_scope(db_url) as session:
            pending = len(ingest.pending_dispatch_ids(session))
        return {"status": "ok", "pending_dispatch": pending}

    for source in PARSERS:
        app.add_api_route(
            f"/alerts/{source}",
            _receiver(source, auth, settings.webhook_max_body, store, dispatcher),
            methods=["POST"],
            status_code=202,
            summary=SUMMARIES[source],
            responses=_responses(),
            response_model=None,
            dependencies=[Depends(delivery_gate)],
            name=f"alerts_{source}",
        )
    register_answer_pages(app)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


class _Sweeper:
    """Says when to delete expired message ids: at most once per `replay.SWEEP_EVERY`."""

    def __init__(self) -> None:
        self._next = 0.0
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                return False
            self._next = now + replay.SWEEP_EVERY.total_seconds()
            return True


def serve_webhook(
    settings: Settings | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    local_demo: bool = False,
) -> None:
    """Run the webhook with uvicorn until interrupted (`irp webhook`)."""
    import uvicorn

    settings = settings or get_settings()
    updates: dict[str, Any] = {"webhook_host": host} if host is not None else {}
    if local_demo:
        updates["webhook_local_demo"] = True
    settings = settings.model_copy(update=updates)
    point_prefect_at_stack(settings)
    app = create_app(settings)  # a demo on a non-loopback host is refused here
    uvicorn.run(
        app,
        host=settings.webhook_host,
        port=settings.webhook_port if port is None else port,
        log_level="info",
    )
