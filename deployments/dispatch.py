"""Start the flow run of each incident opened from an alert, and keep trying while Prefect
is unreachable: the incident waits as pending_dispatch and a background loop retries with a
bounded backoff. `idempotency_key=incident id` makes a repeated dispatch return the same run.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from deployments.names import deployment_name
from irp.alerts import ingest
from irp.db import session_scope
from irp.errors import IrpError
from irp.incidents.naming import run_name_of
from models.enums import IncidentType

log = logging.getLogger("irp.dispatch")

DispatchFn = Callable[[str, IncidentType, str], str]
"""(incident id, type, run name) -> flow run id; raises if the run could not be created."""


def prefect_api_url() -> str | None:
    """Where to dispatch: PREFECT_API_URL, else the stack `irp up` runs (looked up on every
    attempt, so a stack started after the webhook is found by the retry loop)."""
    from irp.settings import running_stack_api_url

    return os.environ.get("PREFECT_API_URL") or running_stack_api_url()


def start_deployment(
    incident_id: str, incident_type: IncidentType, run_name: str, *, api_url: str | None = None
) -> str:
    """Create the type's flow run for the incident, named after it (so the UI lists it by
    name from the start), without waiting for it to start.

    Never falls back to a temporary Prefect server: with no API to reach it raises, and the
    incident waits as pending_dispatch.
    """
    api_url = api_url or prefect_api_url()
    if not api_url:
        raise IrpError("no Prefect API: set PREFECT_API_URL or run `irp up`")
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from irp.settings import get_settings, prefect_auth_string

    updates: dict[Any, Any] = {PREFECT_API_URL: api_url}
    secret = os.environ.get("PREFECT_API_AUTH_STRING") or prefect_auth_string(
        get_settings(), api_url
    )
    if secret:  # a stack started after this process: its secret is in the file it names
        updates[PREFECT_API_AUTH_STRING] = secret
    with temporary_settings(updates=updates):
        run = run_deployment(  # sync here: this thread has no event loop
            name=deployment_name(incident_type),
            parameters={"incident_id": incident_id},
            flow_run_name=run_name,
            timeout=0,
            idempotency_key=incident_id,
            as_subflow=False,
        )
    return str(cast(FlowRun, run).id)


def dispatch_one(
    incident_id: str,
    dispatch: DispatchFn,
    db_url: str | None = None,
    created: dict[str, str] | None = None,
) -> None:
    """Dispatch the incident if it is still pending; raises if Prefect cannot be reached.

    `created` remembers runs made but not yet recorded: when only the recording failed (a
    locked database), the retry records that run instead of asking Prefect for it again.
    """
    created = {} if created is None else created
    if incident_id not in created:
        with session_scope(db_url) as session:
            incident = ingest.pending_incident(session, incident_id)
            if incident is None:
                return
            incident_type, run_name = incident.type, run_name_of(incident)
        created[incident_id] = dispatch(incident_id, incident_type, run_name)
    with session_scope(db_url) as session:
        ingest.mark_dispatched(session, incident_id, created[incident_id])
    del created[incident_id]


class Dispatcher:
    """A thread that dispatches submitted incidents at once and retries failures.

    On start and after every failure it also sweeps the database for pending incidents,
    so incidents left pending by a crash or an outage are dispatched when Prefect is back.
    """

    def __init__(
        self,
        dispatch: DispatchFn,
        db_url: str | None = None,
        *,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._dispatch = dispatch
        self._db_url = db_url
        self._first = first_backoff_s
        self._max = max_backoff_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._unfinished = 0
        self.failures = 0
        self.dispatched: set[str] = set()
        self._created: dict[str, str] = {}  # flow runs made, not yet recorded

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="irp-dispatch", daemon=True)
        self._thread.start()

    def submit(self, incident_ids: Iterable[str]) -> None:
        for incident_id in incident_ids:
            with self._idle:
                self._unfinished += 1
            self._queue.put(incident_id)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """True once every submitted incident has had its first dispatch attempt."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def wait_dispatched(self, incident_ids: Iterable[str], timeout_s: float = 30.0) -> bool:
        """True once each of these incidents has been dispatched (by this dispatcher)."""
        wanted = set(incident_ids)
        with self._idle:
            return self._idle.wait_for(lambda: wanted <= self.dispatched, timeout_s)

    def _try(self, incident_id: str) -> bool:
        try:
            dispatch_one(incident_id, self._dispatch, self._db_url, self._created)
        except Exception as exc:  # noqa: BLE001  (the loop must survive any outage)
            self.failures += 1
            log.warning("dispatch of %s failed, will retry: %s", incident_id, type(exc).__name__)
            return False
        with self._idle:
            self.dispatched.add(incident_id)
            self._idle.notify_all()
        return True

    def _sweep(self) -> list[str]:
        try:
            with session_scope(self._db_url) as session:
                return ingest.pending_dispatch_ids(session)
        except Exception as exc:  # noqa: BLE001
            log.warning("reading pending incidents failed: %s", type(exc).__name__)
            return []

    def _run(self) -> None:
        retry: set[str] = set(self._sweep())
        backoff = self._first
        next_at: float | None = time.monotonic() if retry else None
        while not self._stop.is_set():
            timeout = None if next_at is None else max(0.0, next_at - time.monotonic())
            try:
                incident_id = self._queue.get(timeout=timeout)
            except queue.Empty:
                incident_id = None
            if incident_id is not None:
                if not self._try(incident_id):
                    retry.add(incident_id)
                    next_at = next_at or time.monotonic() + backoff
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()
            if next_at is not None and time.monotonic() >= next_at and not self._stop.is_set():
                retry.update(self._sweep())
                retry = {i for i in sorted(retry) if not self._try(i)}
                backoff = min(self._max, backoff * 2) if retry else self._first
                next_at = time.monotonic() + backoff if retry else None
