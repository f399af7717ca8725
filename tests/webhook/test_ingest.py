"""Dedup, grouping, resolve and re-fire through the live app; concurrency with real threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from irp.alerts import ingest
from irp.db import session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from models import Alert, Incident, TimelineEvent
from models.enums import IncidentStatus, IncidentType
from tests.webhook.conftest import AUTH, Dispatches
from tests.webhook.payloads import am_alert, am_body


def post(url: str, body: object, source: str = "alertmanager") -> httpx.Response:
    return httpx.post(f"{url}/alerts/{source}", json=body, headers=AUTH, timeout=30)


def all_incidents() -> list[Incident]:
    with session_scope() as session:
        return list(session.exec(select(Incident)))


def all_alerts() -> list[Alert]:
    with session_scope() as session:
        return list(session.exec(select(Alert)))


def test_new_alert_opens_dispatched_incident(
    live: str, app: FastAPI, dispatches: Dispatches
) -> None:
    answer = post(live, am_body([am_alert("CheckoutDown", severity="critical")]))
    assert answer.status_code == 202
    assert answer.json()["stored"] == 1
    [incident_id] = answer.json()["incidents_opened"]
    assert app.state.dispatcher.wait_idle()
    assert dispatches.calls == [(incident_id, IncidentType.system_failure)]
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        assert incident.status == IncidentStatus.open
        assert incident.flow_run_id == f"run-{incident_id}"
        assert incident.reporter == "alertmanager"
        assert incident.service == "checkout"
        assert incident.summary == "CheckoutDown on checkout"
        assert incident.detected_at.isoformat() == "2025-11-03T08:15:30+00:00"
        assert incident.facts["alert"]["severity"] == "critical"
    kinds = [e.kind for e in _events(incident_id)]
    assert kinds[0] == "reported" and "dispatched" in kinds


def _events(incident_id: str) -> list[TimelineEvent]:
    with session_scope() as session:
        return timeline.events(session, incident_id)


def test_identical_retry_and_reload_resend_create_nothing(live: str) -> None:
    alert = am_alert("CheckoutDown")
    first = post(live, am_body([alert], group_key="a"))
    retry = post(live, am_body([alert], group_key="a"))
    reload = post(live, am_body([alert], group_key="new-key-after-reload"))
    assert first.json()["stored"] == 1
    assert retry.json() | reload.json() == retry.json()
    assert retry.json()["duplicates"] == 1 and retry.json()["stored"] == 0
    assert reload.json()["duplicates"] == 1
    assert len(all_alerts()) == 1
    assert len(all_incidents()) == 1


def test_grouping_same_type_and_service_attach(live: str) -> None:
    first = post(live, am_body([am_alert("CheckoutDown")]))
    more = post(live, am_body([am_alert("CheckoutLatencyHigh"), am_alert("CheckoutDiskFull")]))
    other_service = post(live, am_body([am_alert("SearchDown", service="search")]))
    [incident_id] = first.json()["incidents_opened"]
    assert more.json()["incidents_opened"] == []
    assert more.json()["incidents_attached"] == [incident_id]
    assert len(other_service.json()["incidents_opened"]) == 1
    linked = [a for a in all_alerts() if a.incident_id == incident_id]
    assert len(linked) == 3
    assert any(e.kind == "alerts_attached" for e in _events(incident_id))


def test_resolved_annotates_timeline_once(live: str) -> None:
    opened = post(live, am_body([am_alert("CheckoutDown")]))
    [incident_id] = opened.json()["incidents_opened"]
    resolved = am_body([am_alert("CheckoutDown", status="resolved")])
    assert post(live, resolved).json()["resolved"] == 1
    assert post(live, resolved).json()["duplicates"] == 1
    events = [e for e in _events(incident_id) if e.kind == "alert_resolved"]
    assert len(events) == 1
    assert "CheckoutDown resolved" in events[0].message
    [row] = all_alerts()
    assert row.status == "resolved"


def test_refired_attaches_while_open_and_opens_new_after_close(live: str) -> None:
    first = post(live, am_body([am_alert("CheckoutDown")]))
    [incident_id] = first.json()["incidents_opened"]
    refire = am_alert("CheckoutDown", starts_at="2025-11-03T10:00:00Z")
    again = post(live, am_body([refire]))
    assert again.json()["stored"] == 1
    assert again.json()["incidents_attached"] == [incident_id]
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        incidents.end_incident(session, incident, IncidentStatus.closed, "fixed")
    third = post(live, am_body([am_alert("CheckoutDown", starts_at="2025-11-03T12:00:00Z")]))
    [new_id] = third.json()["incidents_opened"]
    assert new_id != incident_id
    assert len(all_incidents()) == 2


def test_unmapped_is_stored_and_listed(live: str) -> None:
    from irp.cli.main import main

    answer = post(live, am_body([am_alert("SomethingOdd")]))
    assert answer.json()["unmapped"] == 1
    assert all_incidents() == []
    [row] = all_alerts()
    assert row.mapped is False
    assert main(["alerts", "list", "--unmapped"]) == 0


def test_concurrent_deliveries_make_one_incident(live: str) -> None:
    """40 threads deliver the same alert, and 40 more deliver distinct alerts of one group."""
    same = am_body([am_alert("CheckoutDown")])
    group = [am_body([am_alert(f"CheckoutDown{i}")]) for i in range(40)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(lambda body: post(live, body), [same] * 40 + group))
    assert {a.status_code for a in answers} == {202}
    assert sum(a.json()["stored"] for a in answers) == 41
    assert sum(len(a.json()["incidents_opened"]) for a in answers) == 1
    assert len(all_incidents()) == 1
    assert len(all_alerts()) == 41
    assert all(a.incident_id == all_incidents()[0].id for a in all_alerts())


def test_a_run_made_but_not_recorded_is_recorded_on_retry_not_made_again(
    live: str, app: FastAPI, dispatches: Dispatches, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from deployments import dispatch

    real_mark = ingest.mark_dispatched
    failures = [OperationalError("UPDATE incident", {}, Exception("database is locked"))]

    def locked_once(session: Session, incident_id: str, flow_run_id: str) -> bool:
        if failures:
            raise failures.pop()
        return real_mark(session, incident_id, flow_run_id)

    monkeypatch.setattr(dispatch.ingest, "mark_dispatched", locked_once)
    app.state.dispatcher._first = 0.01  # retry at once

    [incident_id] = post(live, am_body([am_alert("CheckoutDown")])).json()["incidents_opened"]

    assert app.state.dispatcher.wait_dispatched([incident_id])
    assert dispatches.calls == [(incident_id, IncidentType.system_failure)]  # one run, not two
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        assert (incident.status, incident.flow_run_id) == (
            IncidentStatus.open,
            f"run-{incident_id}",
        )
