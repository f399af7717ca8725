"""Flow runs are named after their incident, masked, so the UI's run list is an incident list."""

from __future__ import annotations

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from sqlmodel import select

from deployments.runs import run_drill
from flows.registry import FLOWS
from irp.db import session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.incidents.naming import MAX_NAME, incident_run_name
from models import Incident
from models.enums import IncidentType
from tests.factories import make_intake

pytestmark = pytest.mark.usefixtures("prefect_api")


def run_name_of(incident_id: str) -> str:
    with session_scope() as session:
        incident = session.exec(select(Incident).where(Incident.id == incident_id)).one()
        run_id = incident.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).name


def test_a_reported_incident_run_carries_its_id_and_masked_title() -> None:
    intake = make_intake(
        IncidentType.system_failure, summary="Checkout down, call SOC analyst Li Wei 13812345678"
    )
    incident_id = FLOWS[IncidentType.system_failure](intake=intake, auto_approve=True)

    name = run_name_of(incident_id)
    assert name.startswith(f"{incident_id} Checkout down, call SOC analyst Li Wei ")
    assert "13812345678" not in name
    with get_client(sync_client=True) as client:  # the UI's run list finds it by that name
        found = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=incident_id))
        )
    assert [r.name for r in found] == [name]


def test_a_drill_run_says_drill() -> None:
    incident_id, _ = run_drill(
        "network_attack",
        auto_approve=True,
        plan_file=None,
        description="",
        summary="Storefront flooded",
        reporter="drill",
    )
    assert run_name_of(incident_id) == f"DRILL {incident_id} Storefront flooded"


def test_a_run_given_only_its_incident_is_named_after_it() -> None:
    """Recovery and re-runs start a run with only `incident_id`: the name comes from the
    database (a dispatched run is named at creation: tests/webhook/test_alertmanager.py).
    (A system failure: a real breach's cleanup waits for evidence a person records.)"""
    with session_scope() as session:
        incident = incidents.open_incident(
            session,
            IncidentType.system_failure,
            make_intake(IncidentType.system_failure, summary="Checkout down"),
            drill=False,
            options={"auto_approve": True},
        )
        incident_id = incident.id
    FLOWS[IncidentType.system_failure](incident_id=incident_id, auto_approve=True)
    name = f"{incident_id} Checkout down"
    assert run_name_of(incident_id) == name
    with session_scope() as session:  # the timeline names the run by the same name
        attached = [e.message for e in timeline.events(session, incident_id)]
    assert f"Flow run {name} drives this incident" in attached


def test_names_are_one_short_line() -> None:
    name = incident_run_name("INC-1", "line one\nline two " + "x" * 300, drill=True)
    assert name.startswith("DRILL INC-1 line one line two")
    assert len(name) <= MAX_NAME and "\n" not in name
