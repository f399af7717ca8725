"""The serve process's deadline watch sends clock reminders while every run waits for people."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from deployments.deadlines import check_deadlines
from deployments.locks import DEADLINE_PASS, one_host
from irp.db import session_scope
from irp.incidents import timeline
from irp.notify import clocks
from irp.plan.loader import plan_for
from tests.notify.helpers import routed_plan, sent_queued
from tests.notify.receiver import Receiver
from tests.notify.test_clocks import T0, _start


def test_a_clock_that_ran_out_while_nobody_ran_is_reminded_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = _start(plan_file)  # detected days ago: the PIPL hour is long over

    check_deadlines()
    check_deadlines()  # a second pass finds nothing new to send
    sent_queued(incident_id)

    legal = [r.json for r in receiver.requests if r.path == "/legal"]
    assert len(legal) == 1
    assert "Regulatory deadline reminder" in legal[0]["title"]
    assert "clock pipl EXPIRED" in legal[0]["message"]
    assert incident_id in legal[0]["message"]


def _reminder_events(incident_id: str) -> list[str]:
    with session_scope() as session:
        events = timeline.events(session, incident_id)
    return [
        e.message
        for e in events
        if e.kind == "notified" and e.data.get("event") == "clock_reminder"
    ]


def test_two_hosts_checking_at_the_same_instant_send_one_reminder(
    tmp_path: Path, receiver: Receiver
) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = _start(plan_file)
    start = threading.Barrier(2)
    ran: list[bool] = []

    def watch_pass() -> None:
        start.wait(timeout=30)
        ran.append(check_deadlines())

    hosts = [threading.Thread(target=watch_pass) for _ in range(2)]
    for host in hosts:
        host.start()
    for host in hosts:
        host.join(timeout=60)

    assert len(ran) == 2
    sent_queued(incident_id)
    assert len([r for r in receiver.requests if r.path == "/legal"]) == 1
    assert len(_reminder_events(incident_id)) == 1


def test_a_pass_waits_its_turn_while_another_host_holds_the_watch(
    tmp_path: Path, receiver: Receiver, database: str
) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = _start(plan_file)

    with one_host(DEADLINE_PASS) as held:
        assert held
        other_host = check_deadlines()
    this_host = check_deadlines()

    on_postgresql = bool(database)  # SQLite is one host: no lock to wait for
    assert other_host is not on_postgresql
    assert this_host
    sent_queued(incident_id)
    assert len([r for r in receiver.requests if r.path == "/legal"]) == 1


def test_a_reminder_two_processes_found_due_is_claimed_once(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = _start(plan_file)
    now = T0 + timedelta(minutes=31)
    with session_scope() as session:
        [first] = clocks.due_reminders(session, plan_for, now, incident_id)
    with session_scope() as session:
        [second] = clocks.due_reminders(session, plan_for, now, incident_id)

    with session_scope() as session:
        assert clocks.claim_reminder(session, first)
    with session_scope() as session:
        assert not clocks.claim_reminder(session, second)
        assert clocks.due_reminders(session, plan_for, now, incident_id) == []
