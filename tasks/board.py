"""The incident board as one Prefect table artifact (`irp-incident-board`), republished whole
from the database (irp/incidents/board.py) at every change that matters: a stage starts or
ends, a gate is asked or answered, a report part is asked for or written, an incident closes."""

from __future__ import annotations

from prefect import get_run_logger

from irp.db import session_scope
from irp.incidents.board import COLUMNS, board_rows
from irp.redact import plan_redactor
from models.plan import Plan
from tasks.common import publish

BOARD_KEY = "irp-incident-board"


def publish_board(plan: Plan) -> None:
    """Put the whole board up again, masked; a failure is logged, never raised: the board
    shows the incidents, it does not drive them."""
    try:
        with session_scope() as session:
            rows = board_rows(session)
        empty = [dict.fromkeys(COLUMNS, "-") | {"incident": "no open incident"}]
        description = f"Open incidents: {len(rows)}. What each waits for, whose move it is."
        publish({BOARD_KEY: (description, rows or empty)}, plan_redactor(plan))
    except Exception as exc:  # noqa: BLE001  (any failure here must not fail the incident)
        get_run_logger().warning("incident board not updated: %s", type(exc).__name__)
