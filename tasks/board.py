"""The incident board as one Prefect table artifact (`irp-incident-board`), republished whole
from the database (irp/reporting/board.py) at every change that matters: a stage starts or
ends, a gate is asked or answered, a report part is asked for or written, an incident closes.

Publishing runs off the flow's path, in one background thread per process: since each
version is the whole truth read afresh, requests made while one is being published fold into
the next, and a drill never waits for the board."""

from __future__ import annotations

import contextvars
import logging
import threading

from irp.db import session_scope
from irp.redact import plan_redactor
from irp.reporting.board import COLUMNS, board_rows
from models.plan import Plan
from tasks.common import publish

BOARD_KEY = "irp-incident-board"
log = logging.getLogger("irp.board")

_lock = threading.Lock()
_wanted: tuple[contextvars.Context, Plan] | None = None
_publisher: threading.Thread | None = None


def publish_board(plan: Plan) -> None:
    """Ask for the board to be put up again (masked with `plan`'s patterns); returns at once.
    The caller's context goes along: it says which Prefect server to publish to."""
    global _wanted, _publisher
    with _lock:
        _wanted = (contextvars.copy_context(), plan)
        if _publisher is None:
            # Not a daemon: a process ending right after a change still publishes it.
            _publisher = threading.Thread(target=_publish_while_wanted, name="irp-board")
            _publisher.start()


def _publish_while_wanted() -> None:
    global _wanted, _publisher
    while True:
        with _lock:
            job, _wanted = _wanted, None
            if job is None:
                _publisher = None
                return
        context, plan = job
        context.run(_publish_now, plan)


def _publish_now(plan: Plan) -> None:
    """A failure is logged, never raised: the board shows the incidents, it does not drive them."""
    try:
        with session_scope() as session:
            rows = board_rows(session)
        empty = [dict.fromkeys(COLUMNS, "-") | {"incident": "no open incident"}]
        description = f"Open incidents: {len(rows)}. What each waits for, whose move it is."
        publish({BOARD_KEY: (description, rows or empty)}, plan_redactor(plan))
    except Exception as exc:  # noqa: BLE001  (any failure here must not fail an incident)
        log.warning("incident board not updated: %s", type(exc).__name__)
