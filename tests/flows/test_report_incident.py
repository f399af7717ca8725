"""Whoever discovers an incident reports it (issue 11 item 5): `irp incidents open` records it and
starts its run on the served deployment with the incident id only; an unknown type waits at the
triage gate, answered as the UI does, and the chosen type's stages continue the same incident."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pytest

from irp.cli.main import main
from irp.db import session_scope
from irp.errors import NotFound
from irp.gates import service as gates
from irp.incidents import service as incidents
from irp.incidents import timeline
from models.enums import IncidentStatus, IncidentType
from tests.flows.answerer import Answer, Answerer, closing
from tests.prefect_ui import resume_as_ui

pytestmark = pytest.mark.usefixtures("prefect_api")

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
REPORTER = "Li Lei 13812345678"
SUMMARY = "Saw it at li.lei@example.com"
PERSONAL = ("13812345678", "li.lei@example.com", "Li Lei")


def _until(what: str, check: Callable[[], T | None], deadline_s: float = 120) -> T:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[None]:
    """The incident deployments and report-incident/irp served as `irp up` serves them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.flows.serve_incidents"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _until("the deployments to be served", _served, 60)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def _served() -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name("report-incident/irp")
            client.read_deployment_by_name("system-failure/irp")
        except ObjectNotFound:
            return False
    return True


def _open(capsys: pytest.CaptureFixture[str], *options: str) -> str:
    capsys.readouterr()
    argv = ["incidents", "open", "--title", "Checkout down", "--reporter", REPORTER]
    assert main([*argv, "--summary", SUMMARY, *options]) == 0
    out = capsys.readouterr().out.split()
    assert len(out) == 1 and out[0].startswith("INC-")
    return out[0]


def _run(run_id: str) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(run_id))


def _waiting(incident_id: str, gate: str) -> gates.WaitingGate | None:
    with session_scope() as session:
        try:
            waiting = gates.waiting_gate(session, incidents.get_incident(session, incident_id))
        except NotFound:
            return None
    return waiting if waiting.gate == gate else None


def _paused(run_id: str) -> bool:
    state = _run(run_id).state
    return state is not None and state.is_paused()


def _closed(incident_id: str) -> bool:
    with session_scope() as session:
        return incidents.get_incident(session, incident_id).status == IncidentStatus.closed


def _respond(incident_id: str) -> None:
    """People answer the gates, tasks and closing duties as they come (`irp approve`, ...)."""
    acting = {"technical": "it_manager", "customer_service": "cs_manager"}
    answers = [
        Answer("activation", "approve", "cio"),
        *closing(acting, Answer("signoff", "approve", "cio")),
    ]
    with Answerer(answers, deadline_s=300) as answerer:
        _until("the incident to close", lambda: _closed(incident_id), 300)
    assert answerer.errors == [] and answerer.exit_codes == [0] * len(answers)


def _no_personal_data(run_id: str, incident_id: str) -> dict[str, Any]:
    parameters = _run(run_id).parameters
    assert parameters.get("incident_id") == incident_id
    assert not any(p in repr(parameters) for p in PERSONAL), parameters
    return dict(parameters)


@pytest.mark.usefixtures("served")
def test_a_known_type_is_recorded_and_its_run_started_with_the_id_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    incident_id = _open(capsys, "--type", "system-failure", "--fact", "payment_down=true")

    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        assert incident.type == IncidentType.system_failure and not incident.drill
        assert incident.reporter == REPORTER and incident.facts["payment_down"] is True
        run_id = incident.flow_run_id
    assert run_id is not None
    assert _no_personal_data(run_id, incident_id) == {"incident_id": incident_id}
    assert _run(run_id).deployment_id is not None

    _respond(incident_id)
    with session_scope() as session:
        kinds = [e.kind for e in timeline.events(session, incident_id)]
    assert "stage_completed" in kinds and "triaged" not in kinds


@pytest.mark.usefixtures("served")
def test_an_unknown_type_is_triaged_then_its_stages_run_on_the_same_incident(
    prefect_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = _open(capsys)
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        assert incident.type == IncidentType.unknown
        run_id = incident.flow_run_id
    assert run_id is not None
    _until("the triage gate", lambda: _waiting(incident_id, "triage"))
    _until("the run to pause", lambda: _paused(run_id))

    capsys.readouterr()
    assert main(["approve", incident_id, "--by", "cio"]) == 2
    assert "--type: triage needs the type, one of data-breach" in capsys.readouterr().err
    untyped = {"decision": "approve", "approver": "cio", "comment": "no type"}
    typed = untyped | {"incident_type": "system_failure", "comment": "checkout: a failure"}
    assert resume_as_ui(prefect_api, run_id, untyped) == "REJECT"  # the form requires a type
    assert resume_as_ui(prefect_api, run_id, typed) == "ACCEPT"

    _until("the activation gate", lambda: _waiting(incident_id, "activation"))
    _respond(incident_id)
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        events = timeline.events(session, incident_id)
    assert incident.type == IncidentType.system_failure
    assert incident.flow_run_id == run_id  # one run drove it from report to close
    triaged = [e for e in events if e.kind == "triaged"]
    assert len(triaged) == 1 and triaged[0].actor == "cio"
    assert "system_failure, chosen by cio" in triaged[0].message
    stages = [e.stage for e in events if e.kind == "stage_completed"]
    assert stages[0] == "report" and "response" in stages and "cleanup" in stages
    assert _no_personal_data(run_id, incident_id) == {"incident_id": incident_id}


def test_open_names_the_bad_field(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["incidents", "open", "--title", "Checkout down", "--reporter", "x"]
    cases = {
        ("--type", "phishing"): "--type: 'phishing' is not one of unknown",
        ("--type", "insider-threat"): "--fact account: Field required",
        ("--fact", "people_affected=-3"): "--fact people_affected:",
        ("--fact", "nothing"): "--fact: 'nothing' is not KEY=VALUE",
    }
    for options, message in cases.items():
        capsys.readouterr()
        assert main([*base, *options]) == 2, options
        assert message in capsys.readouterr().err, options
    with session_scope() as session:
        assert incidents.list_incidents(session) == []


@pytest.mark.usefixtures("served")
def test_the_ui_form_of_report_incident_leaves_no_personal_data_in_the_run() -> None:
    """A person fills in report-incident/irp's form in the UI: the run records the incident,
    then keeps only its id as parameters."""
    from prefect.deployments import run_deployment

    report = {
        "title": "Checkout down",
        "reporter": REPORTER,
        "what_happened": SUMMARY,
        "incident_type": "system-failure",
    }
    run = run_deployment("report-incident/irp", parameters={"report": report}, timeout=0)
    run_id = str(run.id)  # type: ignore[union-attr]

    def opened() -> str | None:
        with session_scope() as session:
            for incident in incidents.list_incidents(session):
                if incident.flow_run_id == run_id:
                    return incident.id
        return None

    incident_id = _until("the incident to be recorded", opened)
    _until("the activation gate", lambda: _waiting(incident_id, "activation"))
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
    assert incident.type == IncidentType.system_failure and incident.reporter == REPORTER
    assert _no_personal_data(run_id, incident_id) == {"incident_id": incident_id}


def test_a_drill_run_keeps_no_intake_in_its_parameters() -> None:
    from flows.registry import FLOWS
    from tests.factories import make_intake

    intake = make_intake(IncidentType.system_failure, reporter=REPORTER, description=SUMMARY)
    incident_id = FLOWS[IncidentType.system_failure](intake=intake, drill=True, auto_approve=True)
    with session_scope() as session:
        run_id = incidents.get_incident(session, incident_id).flow_run_id
    assert run_id is not None
    kept = _no_personal_data(run_id, incident_id)
    assert "intake" not in kept and kept["drill"] is True
