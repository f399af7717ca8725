"""A dead or hanging notification target never holds up an incident's stages."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from flows.registry import FLOWS
from irp.db import session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.notify import outbox
from models import Notification
from models.enums import IncidentStatus, IncidentType
from tests.factories import make_intake, plan_data, write_plan
from tests.notify.helpers import sent_queued
from tests.notify.receiver import HOST, closed_port

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


@pytest.fixture
def hanging_port() -> Iterator[tuple[int, socket.socket]]:
    """A port that accepts connections (the kernel's backlog) and never answers one."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(64)
    try:
        yield int(listener.getsockname()[1]), listener
    finally:
        listener.close()


def _plan(tmp_path: Path, **delivery: float) -> Path:
    data = plan_data()
    data["notifications"]["delivery"].update(delivery)
    return write_plan(tmp_path, data)


def _drill(plan_file: Path, notify_url: str) -> str:
    return FLOWS[IncidentType.data_breach](
        intake=make_intake(IncidentType.data_breach),
        drill=True,
        auto_approve=True,
        plan_file=str(plan_file),
        notify_url=notify_url,
    )


def _routed_rows(incident_id: str) -> list[Notification]:
    with session_scope() as session:
        query = select(Notification).where(Notification.incident_id == incident_id)
        return [r for r in session.exec(query) if r.route is not None]


def _status(incident_id: str) -> IncidentStatus:
    with session_scope() as session:
        return incidents.get_incident(session, incident_id).status


def test_the_incident_closes_while_every_message_hangs_on_its_target(
    tmp_path: Path, hanging_port: tuple[int, socket.socket]
) -> None:
    port, listener = hanging_port
    plan_file = _plan(tmp_path, timeout_s=600, max_attempts=2, base_delay_s=0.1)

    incident_id = _drill(plan_file, f"json://{HOST}:{port}/hangs")

    assert _status(incident_id) == IncidentStatus.closed
    rows = _routed_rows(incident_id)
    assert rows and {r.status for r in rows} <= {outbox.PENDING, outbox.SENDING}
    assert outbox.SENDING in {r.status for r in rows}  # in flight while the stages went on
    listener.close()  # the target dies: the hung attempts fail, the retries are refused
    sent_queued(incident_id)
    assert {r.status for r in _routed_rows(incident_id)} == {outbox.FAILED}


def test_a_refusing_target_ends_in_dead_letters_and_the_incident_still_closes(
    tmp_path: Path,
) -> None:
    plan_file = _plan(tmp_path, max_attempts=3, base_delay_s=0.1, max_delay_s=0.2)

    incident_id = _drill(plan_file, f"json://{HOST}:{closed_port()}/x")

    assert _status(incident_id) == IncidentStatus.closed
    sent_queued(incident_id)
    rows = _routed_rows(incident_id)
    assert {r.event for r in rows} >= {"report_received", "closed", "report_ready"}
    assert {r.status for r in rows} == {outbox.FAILED}
    assert all(len([a for a in r.attempts if "number" in a]) == 3 for r in rows)
    assert all("connection failed" in str(r.attempts[-1]["error"]) for r in rows)
    with session_scope() as session:
        failed = [
            e for e in timeline.events(session, incident_id) if e.kind == "notification_failed"
        ]
    assert len(failed) == len(rows)
