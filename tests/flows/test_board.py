"""The incident board: one table artifact on a real Prefect server, read back after each change."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from models.enums import IncidentType
from tasks.board import BOARD_KEY
from tests.factories import breach_with_evidence, make_intake
from tests.flows.answerer import BREACH_GROUPS, Answer, Answerer, closing

pytestmark = pytest.mark.usefixtures("prefect_api")
Row = dict[str, Any]


def _board() -> list[Row]:
    """The board's latest version, as the Prefect API holds it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey

    wanted = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[BOARD_KEY]))
    with get_client(sync_client=True) as client:
        found = client.read_latest_artifacts(artifact_filter=wanted)
    if not found:
        return []
    data = found[0].data
    rows: list[Row] = json.loads(data) if isinstance(data, str) else data
    return rows


def _row_when(check: Callable[[Row], bool], deadline_s: float = 60) -> Row:
    """Poll the board until a row passes `check`."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        for row in _board():
            if check(row):
                return row
        time.sleep(0.2)
    raise AssertionError(f"no such row on the board: {_board()}")


def test_the_board_shows_what_each_open_incident_waits_for_and_whose_move_it_is() -> None:
    intake = make_intake(
        IncidentType.data_breach, summary="Leak reported by li.lei@example.com, 13812345678"
    )
    ran: dict[str, str] = {}
    context = contextvars.copy_context()
    flow = threading.Thread(
        target=context.run,
        args=(
            lambda: ran.update(
                id=FLOWS[IncidentType.data_breach](incident_id=breach_with_evidence(intake))
            ),
        ),
        daemon=True,
    )
    flow.start()
    try:
        row = _row_when(lambda r: r["waits for"].startswith("gate activation"))
        incident_id = row["incident"].split(":", 1)[0]
        assert row["waits for"] == "gate activation (round 1): cio, ciso"
        assert row["drill"] == "real" and row["stage"] == "command"
        assert "li.lei@example.com" not in row["incident"] and "13812345678" not in row["incident"]
        assert main(["approve", incident_id, "--by", "cio", "--priority", "P1"]) == 0

        # work for people: tasks open one after another, and the board may be republished
        # between two of them, so wait for the version that lists this one
        claims = "Keep the register of user claims (legal_manager, legal_counsel)"
        row = _row_when(lambda r: r["waits for"].startswith("tasks: ") and claims in r["waits for"])
        assert row["priority"] == "P1" and row["stage"] == "response"
        assert row["next clock"].split(": due ")[-1].endswith("UTC")

        signing = [Answer("user_notice", "approve", "legal_counsel")]
        signing += closing(BREACH_GROUPS, Answer("signoff", "approve", "cio"))[:4]
        with Answerer(signing) as answerer:
            row = _row_when(lambda r: r["waits for"].startswith("report parts"))
        assert answerer.errors == []
        assert row["stage"] == "post_incident_report"
        assert "technical (it_manager, security_engineer, sysadmin)" in row["waits for"]
        with Answerer(closing(BREACH_GROUPS, Answer("signoff", "approve", "cio"))[4:]) as answerer:
            flow.join(timeout=120)
        assert answerer.errors == [] and ran["id"] == incident_id
    finally:
        flow.join(timeout=5)
    _until(lambda: not [r for r in _board() if r["incident"].startswith(incident_id)])  # closed


def _until(check: Callable[[], bool], deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, f"board never changed: {_board()}"
        time.sleep(0.2)
