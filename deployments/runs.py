"""Starting incident runs and answering their gates from a shell (the CLI's Prefect side)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlmodel import select

from irp.db import session_scope
from irp.errors import GateRefused, InvalidInput, IrpError, NotFound
from irp.gates import service as gates
from irp.gates.machine import ANSWERS, Answer, Decision
from irp.incidents import service as incidents
from irp.plan.loader import get_plan, plan_for
from irp.settings import get_settings
from models import Incident
from models.enums import IncidentType, Priority
from models.intake import INTAKE_MODELS
from models.plan import Plan
from models.plan_drills import DrillScenario

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.orchestration import SyncPrefectClient

Say = Callable[[str], None]
log = logging.getLogger("irp.runs")
GATE_WATCH_INTERVAL_S = 0.3
TRIAGE = "triage"
TRIAGE_TYPES = [t.cli_name for t in INTAKE_MODELS]


def run_drill(
    incident_type: str,
    *,
    auto_approve: bool,
    plan_file: str | None,
    description: str,
    summary: str | None,
    reporter: str,
    faults: dict[str, int] | None = None,
    notify_url: str | None = None,
    scenario: str | None = None,
    on_gate: Say | None = None,
    with_people: bool = False,
) -> tuple[str, str]:
    """Run a drill in this process (a plan scenario's, if named); return the incident id and
    the report path. `on_gate` hears, as each gate starts waiting for a person, the incident
    and how to answer it."""
    itype = IncidentType(incident_type)
    plan = get_plan(plan_file)  # a broken plan fails here with file:line messages, before Prefect
    if scenario is not None:  # the scheduled drill's parameters, run now with this call's options
        from deployments.drills import drill_parameters

        params = drill_parameters(scenario, _scenario(plan, scenario, itype), plan_file)
        params["faults"] = {**params["faults"], **(faults or {})}
        if description:
            params["intake"]["description"] = description
        params |= {"auto_approve": auto_approve, "notify_url": notify_url}
        params["with_people"] = with_people or params["with_people"]
        return _run(itype, params, on_gate)
    intake_model = INTAKE_MODELS[itype]
    intake = intake_model.model_validate(
        {
            "summary": summary or f"Drill: {itype.value.replace('_', ' ')}",
            "reporter": reporter,
            "description": description,
            **intake_model.drill_facts,
        }
    )
    return _run(
        itype,
        {
            "intake": intake,
            "drill": True,
            "auto_approve": auto_approve,
            "plan_file": plan_file,
            "faults": faults,
            "notify_url": notify_url,
            "with_people": with_people,
        },
        on_gate,
    )


def _run(itype: IncidentType, params: dict[str, Any], on_gate: Say | None) -> tuple[str, str]:
    """Run the type's flow in this process; return the incident id and the report path."""
    from flows.registry import FLOWS

    flow = FLOWS[itype]
    if on_gate is None or params.get("auto_approve"):
        incident_id = flow(**params)
    else:
        incident_id = _run_watched(flow, params, on_gate)
    return incident_id, str(get_settings().reports_dir / incident_id / "report.md")


def _run_watched(flow: Flow[..., str], params: dict[str, Any], say: Say) -> str:
    """Run the flow here while a thread watches its run: whenever it pauses at a gate, `say`
    which gate, who may decide and how to answer (the run id is known before it starts)."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Pending

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(
            flow, parameters=flow.serialize_parameters(params), state=Pending()
        )
    plan = get_plan(params.get("plan_file"))
    stop = threading.Event()
    watcher = threading.Thread(
        target=_watch_gates, args=(run.id, plan, say, stop), name="irp-gate-watch", daemon=True
    )
    watcher.start()
    try:
        return run_flow(flow, flow_run=run, parameters=params)  # type: ignore[return-value]
    finally:
        stop.set()
        watcher.join(5)


def _watch_gates(run_id: UUID, plan: Plan, say: Say, stop: threading.Event) -> None:
    """Poll the run's state; at each new pause, read the gate it waits at and say it once."""
    from prefect.client.orchestration import get_client

    told: set[tuple[str, int]] = set()
    with get_client(sync_client=True) as client:
        while not stop.wait(GATE_WATCH_INTERVAL_S):
            try:
                state = client.read_flow_run(run_id).state
                if state is None or not state.is_paused():
                    continue
                with session_scope() as session:
                    incident = session.exec(
                        select(Incident).where(Incident.flow_run_id == str(run_id))
                    ).first()
                    if incident is None:
                        continue
                    waiting = gates.waiting_gate(session, incident)
                    incident_id = incident.id
            except NotFound:
                continue
            except Exception as exc:  # noqa: BLE001  (the run goes on; only the hint is lost)
                log.warning("watching run %s for gates: %s", run_id, type(exc).__name__)
                continue
            if (waiting.gate, waiting.round) not in told:
                told.add((waiting.gate, waiting.round))
                say(gate_prompt(plan, incident_id, waiting, str(run_id)))


def gate_prompt(plan: Plan, incident_id: str, waiting: gates.WaitingGate, run_id: str) -> str:
    """What a person needs to answer a waiting gate: the question, who, the command, the link."""
    from tasks.common import run_link

    policy = plan.gate_policy(waiting.gate)
    who = ", ".join(f"{r} ({plan.role_person(r)})" for r in waiting.deciders)
    home = get_settings().resolved_home
    link = run_link(run_id)
    lines = [
        f"{incident_id} waits at gate {waiting.gate} (round {waiting.round}): {policy.question}",
        f"  may decide: {who}",
        f"  answer: IRP_HOME={home} irp approve {incident_id} --decision approve "
        f'--by {_who(plan, waiting)} --comment "..."   (or reject, escalate)',
        f"  or in the Prefect UI: {link}"
        if link
        else "  no Prefect UI: this drill runs on a temporary Prefect server (start `irp up`)",
    ]
    return "\n".join(lines)


def _who(plan: Plan, waiting: gates.WaitingGate) -> str:
    """How the first decider names themself: a role id, or with codes their person id and the
    code their channel received (or open the link in that message)."""
    if not get_settings().gate_codes:
        return waiting.deciders[0]
    from irp.identity.people import deciders

    return f"{deciders(plan, waiting.deciders)[0].person} --code CODE"


def _scenario(plan: Plan, name: str, itype: IncidentType) -> DrillScenario:
    """The plan's scenario `name`, checked against TYPE."""
    spec = plan.drills.scenarios.get(name)
    if spec is None:
        known = ", ".join(sorted(plan.drills.scenarios)) or "none"
        raise InvalidInput(f"--scenario: {name!r} is not in the plan's drills (known: {known})")
    if spec.incident_type != itype:
        raise InvalidInput(
            f"--scenario: {name!r} drills {spec.incident_type.cli_name}, not {itype.cli_name}"
        )
    return spec


def answer_gate(
    incident_id: str,
    *,
    decision: str,
    approver: str,
    comment: str,
    priority: str | None,
    code: str | None = None,
    incident_type: str | None = None,
) -> str:
    """Resume the run waiting at the incident's gate with a decision, as the UI form does.
    Someone the plan does not allow is refused the way the form refuses (recorded, and the
    form then leads with why); the form's approver is a role id, so a name is sent as its role.
    A round that sent one-time codes takes the person and their code instead (issue 12)."""
    if decision not in ANSWERS:
        raise InvalidInput(f"--decision: {decision!r} is not approve, reject or escalate")
    if priority is not None and priority not in Priority.__members__:
        raise InvalidInput(f"--priority: {priority!r} is not P1, P2, P3 or P4")
    answer = Answer(Decision(decision), approver, comment, Priority(priority) if priority else None)
    from deployments.proven_answers import answer_with_code, codes_asked

    if code is not None or codes_asked(incident_id):
        return answer_with_code(incident_id, answer, code or "", incident_type)
    try:
        role, waiting = _admitted(incident_id, answer)
    except GateRefused as refused:
        show_refusal(incident_id, refused)
        raise
    run_input = {
        "decision": decision,
        "approver": role,
        "comment": comment,
        "priority_override": priority,
    }
    run_input |= triage_input(waiting.gate, decision, incident_type)
    resume_gate(incident_id, waiting, run_input)
    return waiting.gate


def triage_input(gate: str, decision: str, incident_type: str | None) -> dict[str, str]:
    """The triage form's extra field: it requires a type, and only an approve uses it."""
    if gate != TRIAGE:
        return {}
    if decision == "approve" and incident_type not in TRIAGE_TYPES:
        raise InvalidInput(f"--type: triage needs the type, one of {', '.join(TRIAGE_TYPES)}")
    return {"incident_type": (incident_type or TRIAGE_TYPES[0]).replace("-", "_")}


def resume_gate(incident_id: str, waiting: gates.WaitingGate, run_input: dict[str, Any]) -> None:
    """Resume the run paused at `waiting` with an answer; IrpError when it is not paused."""
    resume_waiting_run(incident_id, waiting.flow_run_id, run_input, f"gate {waiting.gate}")


def resume_waiting_run(
    incident_id: str, flow_run_id: str | None, run_input: dict[str, Any], waits_for: str
) -> None:
    """Resume the incident's run paused or suspended at `waits_for` with an answer, as the UI
    form does; an IrpError says what to do when the run is no longer waiting."""
    if flow_run_id is None:
        raise IrpError(f"{incident_id}: no flow run is attached")
    from prefect.exceptions import FlowPauseTimeout, NotPausedError
    from prefect.flow_runs import resume_flow_run

    run_id = UUID(flow_run_id)
    wait_until_paused(run_id)
    try:
        resume_flow_run(run_id, run_input=run_input)
    except NotPausedError as exc:
        raise IrpError(
            f"{incident_id}: its flow run is not paused at {waits_for} any more; if the run "
            f"died, `irp incidents recover {incident_id}` starts a new one (a running stack "
            "does so by itself)"
        ) from exc
    except FlowPauseTimeout as exc:
        raise IrpError(
            f"{incident_id}: the run's pause at {waits_for} ran out before this answer "
            "(the run moved on, or died: then `irp incidents recover` starts it again)"
        ) from exc
    except RuntimeError as exc:
        raise IrpError(f"{incident_id}: Prefect refused the answer: {exc}") from exc


def _admitted(incident_id: str, answer: Answer) -> tuple[str, gates.WaitingGate]:
    """The approver's role and the gate they answer, judged by the gate machine as the flow
    judges the form's answer; GateRefused (recorded) otherwise."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        plan = plan_for(incident)
        round_, waiting = gates.waiting_round(session, plan, incident)
        role = gates.admit(session, plan, incident_id, round_, answer, requested_at=waiting.since)
    return role, waiting


def show_refusal(incident_id: str, refused: GateRefused) -> None:
    """Lead the form of the run's open pause with why this answer was refused, so a person
    looking at the UI sees it too (the run stays paused: nothing was resumed)."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        plan = plan_for(incident)
        refusal = gates.last_refusal(
            session, incident_id, gates.waiting_gate(session, incident).gate
        )
    if incident.flow_run_id is None or refusal is None:
        return
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectException
    from prefect.input import keyset_from_paused_state

    from flows.gates import with_refusal

    run_id = UUID(incident.flow_run_id)
    wait_until_paused(run_id)
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
            if state is None or not state.is_paused():
                return
            key = keyset_from_paused_state(state)["description"]
            shown = saved_input(client, run_id, key)
            if shown is None:
                return
            client.delete_flow_run_input(run_id, key)
            client.create_flow_run_input(
                run_id, key, json.dumps(with_refusal(shown, refusal, plan))
            )
    except (PrefectException, httpx.HTTPError) as exc:
        raise GateRefused(f"{refused} (the gate's form could not say so: {exc})") from exc


def saved_input(client: SyncPrefectClient, run_id: UUID, key: str, deadline_s: float = 5.0) -> Any:
    """A run input the pausing run saves just after it pauses; None if it never comes."""
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            return json.loads(client.read_flow_run_input(run_id, key))
        except ObjectNotFound:
            time.sleep(0.1)
        except PrefectHTTPStatusError as exc:  # Prefect's client sends this run input's 404 as is
            if exc.response.status_code != 404:
                raise
            time.sleep(0.1)
    return None


def wait_until_paused(run_id: UUID, deadline_s: float = 15.0) -> None:
    """The timeline announces a gate just before the run pauses, and the run saves its form
    just after: give it both moments (Prefect refuses a resume before the form is saved)."""
    from prefect.client.orchestration import get_client
    from prefect.input import keyset_from_paused_state

    deadline = time.monotonic() + deadline_s
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(run_id).state
            if state is not None and state.is_paused():
                schema = keyset_from_paused_state(state)["schema"]
                saved_input(client, run_id, schema, deadline - time.monotonic())
                return
            if state is not None and state.is_final():
                return
            time.sleep(0.1)
