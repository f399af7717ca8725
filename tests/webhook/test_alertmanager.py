"""End to end with the real Alertmanager and a real Prefect server: an alert becomes one
incident and one flow run of the right deployment, survives a failed delivery without a
duplicate, and its resolution lands on the timeline."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from sqlmodel import select

from deployments.dispatch import start_deployment
from deployments.names import DEPLOYMENT, deployment_name
from deployments.webhook import create_app, delivery_gate
from irp.db import session_scope
from irp.incidents import timeline
from irp.incidents.naming import run_name_of
from irp.settings import Settings
from models import Alert, Incident
from models.enums import IncidentStatus, IncidentType
from tests.webhook.alertmanager import alertmanager, api_alert, free_port, push
from tests.webhook.conftest import AUTH, TOKEN, Dispatches
from tests.webhook.payloads import am_alert, am_body
from tests.webhook.server import serve

pytestmark = pytest.mark.slow


class Gate:
    """Replaces `delivery_gate`: fails the first `fail_first` deliveries with a 500 and
    counts the ones that completed (the code after `yield` runs once the answer is done)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.attempts = 0
        self.completed = 0
        self._cond = threading.Condition()

    def __call__(self) -> Iterator[None]:
        with self._cond:
            self.attempts += 1
            failing = self.attempts <= self.fail_first
        if failing:
            raise HTTPException(500, "test: receiver failed on purpose")
        yield
        with self._cond:
            self.completed += 1
            self._cond.notify_all()

    def wait_completed(self, count: int, timeout_s: float = 60) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.completed >= count, timeout_s)


@pytest.fixture(scope="module")
def deployments_applied(prefect_api: str) -> str:
    """Register the four deployments (not served: the runs stay Scheduled)."""
    from flows.registry import FLOWS

    for flow in FLOWS.values():
        flow.to_deployment(name=DEPLOYMENT).apply()  # type: ignore[union-attr]
    return prefect_api


def read_run(flow_run_id: str) -> tuple[dict[str, object], str, str]:
    """The run's parameters, deployment and own name."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        assert run.deployment_id is not None
        deployment = client.read_deployment(run.deployment_id)
        flow = client.read_flow(deployment.flow_id)
    return run.parameters, f"{flow.name}/{deployment.name}", run.name


def test_alertmanager_to_flow_run(
    settings: Settings, deployments_applied: str, tmp_path: Path
) -> None:
    gate = Gate(fail_first=1)
    app = create_app(
        settings, dispatch=functools.partial(start_deployment, api_url=deployments_applied)
    )
    app.dependency_overrides[delivery_gate] = gate
    started = datetime.now(UTC) - timedelta(minutes=1)
    with serve(app) as url, alertmanager(tmp_path / "am", url, TOKEN) as am:
        push(am, [api_alert("CheckoutServiceDown", "checkout", started, severity="critical")])
        assert gate.wait_completed(1), "Alertmanager never delivered"
        assert gate.attempts == 2  # the 500 made Alertmanager retry the identical body
        with session_scope() as session:
            [incident] = session.exec(select(Incident)).all()
            [alert] = session.exec(select(Alert)).all()
        assert incident.type == IncidentType.system_failure
        assert alert.incident_id == incident.id
        assert app.state.dispatcher.wait_dispatched([incident.id])
        with session_scope() as session:
            dispatched = session.get(Incident, incident.id)
        assert dispatched is not None and dispatched.status == IncidentStatus.open
        assert dispatched.flow_run_id is not None
        parameters, deployment, run_name = read_run(dispatched.flow_run_id)
        assert parameters == {"incident_id": incident.id}
        assert deployment == deployment_name(IncidentType.system_failure)
        assert run_name == run_name_of(dispatched)  # named at creation: nothing serves it

        resolved = api_alert(
            "CheckoutServiceDown",
            "checkout",
            started,
            ends_at=datetime.now(UTC),
            severity="critical",
        )
        push(am, [resolved])
        assert gate.wait_completed(2), "Alertmanager never sent the resolution"
    with session_scope() as session:
        kinds = [e.kind for e in timeline.events(session, incident.id)]
        assert len(session.exec(select(Incident)).all()) == 1
        rows = session.exec(select(Alert)).all()
        assert [r.status for r in rows] == ["resolved"]
    assert "alert_resolved" in kinds


def test_unreachable_prefect_waits_then_dispatches(
    settings: Settings, deployments_applied: str
) -> None:
    target = {"url": f"http://127.0.0.1:{free_port()}/api"}  # nothing listens there

    def dispatch(incident_id: str, incident_type: IncidentType, run_name: str) -> str:
        return start_deployment(incident_id, incident_type, run_name, api_url=target["url"])

    app = create_app(settings, dispatch=dispatch)
    with TestClient(app) as client:
        answer = client.post(
            "/alerts/alertmanager", json=am_body([am_alert("CheckoutDown")]), headers=AUTH
        )
        [incident_id] = answer.json()["incidents_opened"]
        assert app.state.dispatcher.wait_idle()
        assert app.state.dispatcher.failures >= 1
        with session_scope() as session:
            incident = session.get(Incident, incident_id)
            assert incident is not None and incident.status == IncidentStatus.pending_dispatch
        target["url"] = deployments_applied  # the API is back
        assert app.state.dispatcher.wait_dispatched([incident_id])
    with session_scope() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.status == IncidentStatus.open
    assert incident.flow_run_id is not None
    assert read_run(incident.flow_run_id)[0] == {"incident_id": incident_id}


def test_truncated_alerts_reach_the_incident(
    settings: Settings, dispatches: Dispatches, tmp_path: Path
) -> None:
    """Alertmanager with `max_alerts: 2` sends two of five alerts of a group and counts the
    other three in `truncatedAlerts`: the incident says three alerts never arrived."""
    gate = Gate()
    app = create_app(settings, dispatch=dispatches)
    app.dependency_overrides[delivery_gate] = gate
    started = datetime.now(UTC) - timedelta(minutes=1)
    with (
        serve(app) as url,
        alertmanager(tmp_path / "am", url, TOKEN, group_by=["service"], max_alerts=2) as am,
    ):
        push(am, [api_alert(f"CheckoutDown{i}", "checkout", started) for i in range(5)])
        assert gate.wait_completed(1), "Alertmanager never delivered"
    with session_scope() as session:
        [incident] = session.exec(select(Incident)).all()
        assert len(session.exec(select(Alert)).all()) == 2
        events = [e for e in timeline.events(session, incident.id) if e.kind == "alerts_truncated"]
    [counts] = [incident.facts["alerts_truncated"]]
    assert list(counts.values()) == [3]
    assert [e.message.split(" (")[0] for e in events] == ["3 more alerts truncated by Alertmanager"]
