"""The outbox: rows queued pending, claimed by one worker each, sent after a restart."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.notify import outbox, service, worker
from irp.notify.worker import DeliveryWorker
from irp.plan.loader import get_plan
from models import Notification
from models.base import utcnow
from tests.factories import write_plan
from tests.notify.helpers import open_breach, routed_plan
from tests.notify.receiver import Receiver


@pytest.fixture(autouse=True)
def no_process_worker() -> None:
    """No worker left running by an earlier test may claim these tests' rows."""
    worker.stop(30)


def _queue(plan_file: Path, incident_id: str, event: str = "plan_activated") -> list[int]:
    """Queue an event's rows the way a flow does, with no worker to send them yet."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        return service.enqueue(session, incident, event, get_plan(plan_file))


def _rows(ids: list[int]) -> list[Notification]:
    with session_scope() as session:
        found = session.exec(select(Notification).where(Notification.id.in_(ids)))  # type: ignore[union-attr]
        return sorted(found, key=lambda r: r.id or 0)


def _settled(ids: list[int], worker: DeliveryWorker) -> list[Notification]:
    """Kick the worker and wait (bounded) until none of the rows is pending or being sent."""
    deadline = utcnow() + timedelta(seconds=60)
    while utcnow() < deadline:
        worker.kick()
        rows = _rows(ids)
        if all(r.status not in (outbox.PENDING, outbox.SENDING) for r in rows):
            return rows
        worker.wait_idle(0.2)
    raise AssertionError(f"rows not settled: {[(r.id, r.status) for r in _rows(ids)]}")


def test_a_queued_row_keeps_the_unexpanded_reference_never_the_secret(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "hook-token-0123456789"
    monkeypatch.setenv("IRP_TEST_HOOK", secret)
    _, data = routed_plan(tmp_path, receiver)
    data["organisation"]["groups"]["leadership"]["notify"] = [
        receiver.url("json", "/hook", userinfo="bot:${IRP_TEST_HOOK}")
    ]
    data["organisation"]["groups"]["technical"]["notify"] = [
        receiver.url("json", "/tech", userinfo=f"bot:{secret}")
    ]
    plan_file = write_plan(tmp_path, data)
    incident_id = open_breach(plan_file)

    ids = _queue(plan_file, incident_id, "report_received")

    rows = _rows(ids)
    assert {r.status for r in rows} == {outbox.PENDING}
    routes = {r.audience: str(r.route) for r in rows if "/cio" not in str(r.route)}
    assert routes["leadership"] == data["organisation"]["groups"]["leadership"]["notify"][0]
    assert routes["technical"].startswith("mask:") and "/tech" in routes["technical"]
    for row in rows:
        assert secret not in f"{row.route} {row.target} {row.title} {row.body}"

    worker = DeliveryWorker().start()
    try:
        settled = _settled(ids, worker)
    finally:
        worker.stop(30)
    assert {r.status for r in settled} == {outbox.SENT}
    paths = {r.path for r in receiver.requests}
    assert {"/hook", "/tech"} <= paths  # both found again (expanded, unmasked) to be sent


def test_a_pending_row_is_sent_by_a_worker_started_later(
    tmp_path: Path, receiver: Receiver
) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = open_breach(plan_file)
    ids = _queue(plan_file, incident_id)
    assert {r.status for r in _rows(ids)} == {outbox.PENDING}
    assert receiver.requests == []  # queued while no worker ran: nothing went out

    worker = DeliveryWorker().start()  # the process comes back
    try:
        rows = _settled(ids, worker)
    finally:
        worker.stop(30)

    assert {r.status for r in rows} == {outbox.SENT}
    assert len(receiver.requests) == len(ids)


def test_a_row_claimed_by_a_worker_that_died_is_claimed_again_after_the_lease(
    tmp_path: Path, receiver: Receiver
) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = open_breach(plan_file)
    ids = _queue(plan_file, incident_id, "report_received")
    t0 = utcnow()
    with session_scope() as session:
        assert sorted(outbox.claim(session, "host-a:1", 100, t0)) == ids  # then host-a dies

    with session_scope() as session:
        assert outbox.claim(session, "host-b:2", 100, t0 + timedelta(minutes=1)) == []
    with session_scope() as session:
        again = outbox.claim(session, "host-b:2", 100, t0 + outbox.LEASE + timedelta(seconds=1))
    assert sorted(again) == ids

    assert outbox.send_claimed(ids[0], "host-a:1") is None  # not host-a's any more
    assert [outbox.send_claimed(i, "host-b:2") for i in ids] == [outbox.SENT] * len(ids)
    assert len(receiver.requests) == len(ids)


def test_two_workers_claiming_at_once_never_share_a_row(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None, drill={"targets": ["json://127.0.0.1:9/x"]})
    incident_id = open_breach(plan_file, drill=True)
    ids = sorted(_queue(plan_file, incident_id) + _queue(plan_file, incident_id, "closed"))
    start = threading.Barrier(2)
    claimed: dict[str, list[int]] = {}

    def claim_all(name: str) -> None:
        start.wait(timeout=30)
        mine: list[int] = []
        while True:
            with session_scope() as session:
                got = outbox.claim(session, name, 2)
            if not got:
                break
            mine += got
        claimed[name] = mine

    threads = [threading.Thread(target=claim_all, args=(n,)) for n in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert set(claimed) == {"w1", "w2"}
    assert not set(claimed["w1"]) & set(claimed["w2"])
    assert sorted(claimed["w1"] + claimed["w2"]) == ids


def test_two_running_workers_send_each_row_once(tmp_path: Path, receiver: Receiver) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = open_breach(plan_file)
    ids = [i for _ in range(4) for i in _queue(plan_file, incident_id)]

    workers = [DeliveryWorker(poll_s=0.05).start() for _ in range(2)]
    try:
        rows = _settled(ids, workers[0])
    finally:
        for worker in workers:
            worker.stop(30)

    assert {r.status for r in rows} == {outbox.SENT}
    assert {r.claimed_by for r in rows} <= {w.name for w in workers}
    assert len(receiver.requests) == len(ids)  # each row once, whichever worker sent it
