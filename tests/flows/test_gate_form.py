"""The gate form offers only the deciders allowed this round: Prefect's server refuses anyone
else before the run resumes, `irp approve` refuses them the same way, and the form then leads
with why the last answer was refused."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import session_scope
from irp.errors import GateRefused, NotFound
from irp.gates import service as gates
from irp.gates.machine import Answer, Decision, GateRound
from irp.incidents import service as incidents
from irp.plan.loader import get_plan
from models.enums import IncidentStatus, IncidentType
from tests.factories import make_intake
from tests.prefect_ui import resume_as_ui

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


def _until(what: str, check: Callable[[], Any], deadline_s: float = 60) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Background:
    """A flow run in another thread, as a served run would be."""

    result: dict[str, Any] = field(default_factory=dict)
    thread: threading.Thread | None = None

    def start(self, call: Callable[[], str]) -> None:
        def run() -> None:
            self.result["incident_id"] = call()

        context = contextvars.copy_context()  # the test's Prefect settings live in a contextvar
        self.thread = threading.Thread(target=context.run, args=(run,), daemon=True)
        self.thread.start()

    def join(self) -> str:
        assert self.thread is not None
        self.thread.join(timeout=60)
        return str(self.result["incident_id"])


@pytest.fixture
def background() -> Iterator[Background]:
    runner = Background()
    yield runner
    if runner.thread is not None:
        runner.thread.join(timeout=60)


def _paused_at_gate(gate: str) -> tuple[str, UUID]:
    """The incident waiting at `gate` and its run, once the run is paused there."""
    from prefect.client.orchestration import get_client

    def check() -> tuple[str, UUID] | None:
        with session_scope() as session:
            for incident in incidents.list_incidents(session):
                try:
                    waiting = gates.waiting_gate(session, incident)
                except NotFound:
                    continue
                if waiting.gate == gate and waiting.flow_run_id:
                    run_id = UUID(waiting.flow_run_id)
                    with get_client(sync_client=True) as client:
                        state = client.read_flow_run(run_id).state
                    if state is not None and state.is_paused():
                        return incident.id, run_id
        return None

    found: tuple[str, UUID] = _until(f"a run paused at {gate}", check)
    return found


def _form(run_id: UUID) -> tuple[dict[str, Any], str]:
    """The open pause's form as the UI reads it: its JSON schema and its description."""
    from prefect.client.orchestration import get_client
    from prefect.input import keyset_from_paused_state

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
        assert state is not None and state.is_paused()
        keyset = keyset_from_paused_state(state)
        schema = json.loads(client.read_flow_run_input(run_id, keyset["schema"]))
        description = json.loads(client.read_flow_run_input(run_id, keyset["description"]))
    return schema, description


def _state(run_id: UUID) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    assert state is not None
    return state.type.value


def test_only_allowed_deciders_can_resume_the_gate(
    prefect_api: str, background: Background, capsys: pytest.CaptureFixture[str]
) -> None:
    background.start(
        lambda: FLOWS[IncidentType.data_breach](intake=make_intake(IncidentType.data_breach))
    )
    incident_id, run_id = _paused_at_gate("activation")

    schema, description = _form(run_id)
    approver = schema["properties"]["approver"]
    assert approver["enum"] == ["cio", "ciso"]
    assert "approver" in schema["required"]
    assert not description.startswith("**Last answer")

    for who in ("cs_agent", "CIO on duty"):
        answer = {"decision": "approve", "approver": who, "comment": ""}
        assert resume_as_ui(prefect_api, run_id, answer) == "REJECT", who
    assert _state(run_id) == "PAUSED"

    capsys.readouterr()
    assert main(["approve", incident_id, "--by", "cs_agent", "--comment", "on my own"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: 'cs_agent' may not decide gate 'activation'; "
        "allowed: cio (CIO on duty), ciso (CISO on duty)"
    ]
    assert _state(run_id) == "PAUSED"
    _, description = _form(run_id)
    first, rest = description.split("\n\n", 1)
    assert first.startswith("**Last answer by cs_agent at ") and first.endswith(
        "was refused:** 'cs_agent' may not decide gate 'activation'; "
        "allowed: cio (CIO on duty), ciso (CISO on duty)"
    )
    assert rest.startswith("### Activate the emergency response plan")
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        waiting = gates.waiting_gate(session, incident)
        refused = [d for d in gates.decisions(session, incident_id) if not d.accepted]
    assert [(d.approver, d.comment, d.round) for d in refused] == [("cs_agent", "on my own", 1)]
    assert refused[0].requested_at == waiting.since  # the wait counts from the ask

    by_name = ["approve", incident_id, "--by", "CISO on duty", "--decision", "reject"]
    assert main([*by_name, "--comment", "false alarm"]) == 0
    assert background.join() == incident_id
    with session_scope() as session:
        decision = gates.final_decision(session, incident_id, "activation")
        status = incidents.get_incident(session, incident_id).status
    assert decision is not None and (decision.approver, decision.approver_role) == ("ciso", "ciso")
    assert (decision.outcome, decision.comment) == ("reject", "false alarm")
    assert status == IncidentStatus.rejected


def test_a_gate_asked_again_leads_with_why_the_last_answer_was_refused(
    background: Background,
) -> None:
    plan = get_plan(None)
    with session_scope() as session:
        incident = incidents.open_incident(
            session, IncidentType.system_failure, make_intake(IncidentType.system_failure)
        )
        incident_id = incident.id
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        with pytest.raises(GateRefused):
            gates.admit(
                session,
                plan,
                incident_id,
                GateRound("activation", plan.gates["activation"], 1),
                Answer(Decision.approve, "13812345678"),
                requested_at=incident.created_at,
            )

    background.start(lambda: FLOWS[IncidentType.system_failure](incident_id=incident_id))
    _, run_id = _paused_at_gate("activation")
    _, description = _form(run_id)
    assert description.startswith("**Last answer by 138****5678 at ")
    assert "13812345678" not in description

    assert main(["approve", incident_id, "--by", "cio", "--decision", "reject"]) == 0
    assert background.join() == incident_id
