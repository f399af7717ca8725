"""The delivery worker: a background thread that sends outbox rows in the process it lives in.

The stack's long-running processes (the serve process, the webhook app) each start one; it
wakes when this process queues a row (`kick`) and polls for rows other processes queued (a
flow run's process, a drill run from the CLI), so those leave their rows to it and end at
once. Where no stack runs (an in-process drill, a test) the first `kick` starts one here, and
the process waits at exit for what it claimed. Sends run on a small thread pool, so a dead
target holds one slot while pages to working targets go on.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from irp.db import session_scope
from irp.notify import outbox
from irp.settings import get_settings, running_stack

log = logging.getLogger("irp.notify")
POLL_S = 0.5
SENDERS = 4
EXIT_WAIT_S = 120.0

_lock = threading.Lock()
_current: DeliveryWorker | None = None


class DeliveryWorker:
    """Claims rows while it has a free sender, sends each on the pool, records the outcome."""

    def __init__(
        self, db_url: str | None = None, poll_s: float = POLL_S, senders: int = SENDERS
    ) -> None:
        self.name = f"{outbox.worker_name()}:{uuid.uuid4().hex[:6]}"
        self._db_url = db_url
        self._poll_s = poll_s
        self._senders = senders
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._pool = ThreadPoolExecutor(senders, thread_name_prefix="irp-notify")
        self._thread = threading.Thread(target=self._loop, name="irp-outbox", daemon=True)

    def start(self) -> DeliveryWorker:
        self._thread.start()
        return self

    def kick(self) -> None:
        """Look for rows now rather than at the next poll."""
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing this worker claimed is still being sent; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def stop(self, timeout: float = EXIT_WAIT_S) -> None:
        """Claim nothing more; wait for the sends under way (bounded by `timeout`)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self.wait_idle(timeout)
        self._pool.shutdown(wait=False)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll_s)
            self._wake.clear()
            try:
                self._claim_and_send()
            except Exception as exc:  # the database is down: try again at the next poll
                log.warning("notification worker: %s: %s", type(exc).__name__, exc)

    def _claim_and_send(self) -> None:
        while not self._stop.is_set():
            free = self._senders - self._in_flight
            if free <= 0:
                return  # a finished send wakes the loop
            with session_scope(self._db_url) as session:
                ids = outbox.claim(session, self.name, free)
            if not ids:
                return
            with self._idle:
                self._in_flight += len(ids)
            for row_id in ids:
                self._pool.submit(self._send, row_id)

    def _send(self, row_id: int) -> None:
        try:
            outbox.send_claimed(row_id, self.name, db_url=self._db_url)
        except Exception as exc:  # the row stays claimed; the lease gives it to a worker later
            log.warning("notification #%s: %s: %s", row_id, type(exc).__name__, exc)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
            self._wake.set()


def start(db_url: str | None = None) -> DeliveryWorker:
    """This process's worker, started if it is not yet (the stack's processes call it)."""
    global _current
    with _lock:
        if _current is None:
            _current = DeliveryWorker(db_url).start()
            atexit.register(_current.stop)
        return _current


def kick() -> None:
    """Rows were queued: have this process's worker look now; without one, leave them to the
    stack's workers, or start one here if no stack runs."""
    with _lock:
        current = _current
    if current is None and running_stack(get_settings()) is not None:
        return
    start().kick()


def stop(timeout: float = EXIT_WAIT_S) -> None:
    """Stop this process's worker (the stack's processes on shutdown); a send still under way
    after `timeout` is claimed again by a worker once its lease ends."""
    global _current
    with _lock:
        worker, _current = _current, None
    if worker is not None:
        atexit.unregister(worker.stop)
        worker.stop(timeout)


def wait_delivered(incident_id: str | None, timeout: float, poll_s: float = 0.05) -> bool:
    """Kick, then wait until none of the incident's rows (any row, for None) is pending or
    being sent: where no stack runs, what this process queued is sent before it ends."""
    kick()
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as session:
            if outbox.waiting(session, incident_id) == 0:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
