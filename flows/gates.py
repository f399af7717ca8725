"""Gates are Prefect pauses with a typed form (DESIGN.md principle 4), decided by plan roles."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.input.actions import read_flow_run_input
from prefect.input.run_input import keyset_from_base_key
from prefect.runtime import flow_run
from prefect.states import Running
from pydantic import Field, create_model

from flows.run_process import label_process
from irp.gates import machine
from irp.gates import service as gates
from irp.gates import waits as gate_waits
from irp.gates.machine import Answer, Decision, GateOutcome, GateRound, Verdict
from irp.identity import gates as proven
from irp.identity.people import deciders
from irp.redact import plan_redactor
from irp.settings import get_settings
from models.base import utcnow
from models.enums import Priority
from models.plan import Plan
from tasks.board import publish_board
from tasks.notify import announce_gate, notify_url

Form = TypeVar("Form", bound=RunInput)
"""A wait's typed form: a gate's, a manual task's (flows/manual_tasks.py) or a report part's
(flows/report_parts.py)."""


class GateInput(RunInput):
    """The form the Prefect UI shows at a gate; `irp approve` sends the same fields."""

    decision: Literal["approve", "reject", "escalate"] = Field(
        default="approve",
        description="approve: go on; reject: end the incident; escalate: ask the deputy",
    )
    approver: str = Field(description="Your role id (e.g. cio, ciso) or your name as in the plan")
    priority_override: Priority | None = Field(
        default=None, description="Change the priority (P1-P4) if the grading is wrong"
    )
    comment: str = Field(default="", max_length=4000, description="Why: goes on the timeline")
    code: str = Field(
        default="",
        max_length=1000,
        description="The one-time code sent to you (never put on the timeline)",
    )


def gate_form(
    plan: Plan,
    allowed: list[str],
    description: str,
    base: type[GateInput] = GateInput,
    *,
    people: bool = False,
) -> type[GateInput]:
    """This round's form: `approver` is a choice of the roles allowed now (with codes: of the
    people holding them), so the UI offers a select and Prefect's server refuses anyone else
    (`"status": "REJECT"`) before the run resumes."""
    if people:
        holders = deciders(plan, allowed)
        who = ", ".join(f"{d.person} ({d.name}, {d.role})" for d in holders)
        allowed = [d.person for d in holders]
    else:
        who = ", ".join(f"{r} ({plan.role_person(r)})" for r in allowed)
    form = create_model(
        base.__name__, __base__=base, approver=select_field(allowed, f"Who decides: {who}")
    )
    return form.with_initial_data(description=description, decision="approve")


def select_field(values: list[Any], description: str, default: Any = ...) -> Any:
    """A form field that takes one of `values`, shown as a select in the UI and checked by
    Prefect's server. Pydantic writes a single choice as `const`, which the UI shows as free
    text: the schema always lists them as `enum`. Its default goes here, not in
    `with_initial_data`, which would rebuild the field without the list."""

    def as_select(schema: dict[str, Any]) -> None:
        schema.pop("const", None)
        schema["enum"] = list(values)

    choice: Any = Literal[tuple(values)]
    return (choice, Field(default, description=description, json_schema_extra=as_select))


def decide(
    incident_id: str,
    gate: str,
    plan: Plan,
    *,
    auto_approve: bool,
    context: str = "",
    form: type[GateInput] = GateInput,
    on_answer: Callable[[GateInput], None] | None = None,
) -> GateOutcome:
    """Wait for an allowed decider and return the outcome that settles the gate (proceed,
    reject or stop); what each answer or timeout means is the gate machine's call. A gate
    asking more than the decision has its own `form`; `on_answer` keeps an accepted answer's
    fields before the verdict is recorded."""
    stands = gates.standing(incident_id, gate)
    if stands.settled is not None:
        return stands.settled
    auto = plan.drill if auto_approve else None
    round_ = GateRound(gate, plan.gate_policy(gate), stands.round, stands.escalations, auto)
    undecided = stands.undecided
    verdict = machine.before_asking(round_)
    if verdict is not None:
        return _record(incident_id, plan, round_, verdict, utcnow())
    while True:
        suspend = may_suspend(round_.wait_s)
        asking = gates.asking(incident_id, gate, round_.number)
        key = f"{gate.replace('_', '-')}-{round_.number}"
        answer: GateInput | None = None
        if asking.asked is None:
            requested_at = utcnow()
            _announce(incident_id, plan, round_, suspend)
        else:
            requested_at = asking.asked.since
            if flow_run.get_id() not in asking.asked.flow_run_ids:
                answer = (
                    _answer_given_to(asking.asked.flow_run_ids, key, form) if undecided else None
                )
                if answer is None:
                    gate_waits.record_reasked(
                        incident_id,
                        round_,
                        asking.asked,
                        flow_run_id=flow_run.get_id(),
                        suspended=suspend,
                    )
        undecided = False
        if answer is None:
            text = _form_text(incident_id, plan, round_, context, asking.refusal)
            asked = gate_form(plan, round_.deciders, text, form, people=proven.required(round_))
            answer = wait_for(asked, key, requested_at, round_.wait_s, suspend=suspend)
        verdict = _judge(incident_id, plan, round_, answer)
        if on_answer is not None and answer is not None and verdict.accepted:
            on_answer(answer)
        outcome = _record(incident_id, plan, round_, verdict, requested_at)
        if outcome.settles:
            return outcome
        if outcome is GateOutcome.refused:
            get_run_logger().warning(verdict.reason)
        if verdict.timed_out_to_escalation:
            _escalated(incident_id, plan, round_)
        round_ = round_.after(verdict)


def _judge(incident_id: str, plan: Plan, round_: GateRound, answer: GateInput | None) -> Verdict:
    """The machine's verdict; with codes, on the proven person's role, recorded as the person
    (an unproven answer is refused with why)."""
    if answer is None or not proven.required(round_):
        return machine.judge(round_, _as_answer(answer), plan)
    proof = proven.prove_answer(incident_id, plan, round_, answer.approver, answer.code)
    if proof.person is None:
        return Verdict(
            GateOutcome.refused, Decision(answer.decision), answer.approver, reason=proof.reason
        )
    decision = Decision(answer.decision)
    as_role = Answer(decision, proof.person.role, answer.comment, answer.priority_override)
    verdict = machine.judge(round_, as_role, plan)
    return replace(verdict, approver=proof.person.name)


def _as_answer(answer: GateInput | None) -> Answer | None:
    if answer is None:
        return None
    return Answer(
        Decision(answer.decision), answer.approver, answer.comment, answer.priority_override
    )


def _record(
    incident_id: str, plan: Plan, round_: GateRound, verdict: Verdict, requested_at: datetime
) -> GateOutcome:
    outcome = gates.record_verdict(
        incident_id,
        round_,
        verdict,
        requested_at=requested_at,
        flow_run_id=flow_run.get_id(),
    )
    publish_board(plan)
    return outcome


def wait_for(
    form: type[Form], key: str, requested_at: datetime, timeout: float, *, suspend: bool
) -> Form | None:
    """The person's answer on `form`, or None when `timeout` (from `requested_at`) passes:
    in-process, or (`suspend`) in-process first and then with the process freed."""
    if suspend:
        return _wait_then_suspend(form, key, requested_at, timeout)
    return _pause(form, key, requested_at, timeout)


def may_suspend(timeout: float) -> bool:
    """Suspend (free the process) only a deployment run, and only a wait outlasting the
    in-process wait `gate_suspend_after_s`."""
    settings = get_settings()
    context = FlowRunContext.get()
    has_deployment = context is not None and context.flow_run is not None
    has_deployment = has_deployment and context.flow_run.deployment_id is not None  # type: ignore[union-attr]
    return settings.gate_suspend and has_deployment and timeout > settings.gate_suspend_after_s


def _wait_then_suspend(
    form: type[Form], key: str, requested_at: datetime, timeout: float
) -> Form | None:
    """A quick answer finds the run paused in-process (resumes in about a second); after
    `gate_suspend_after_s` the run suspends and frees its process until answered or due."""
    hot_until = requested_at + timedelta(seconds=get_settings().gate_suspend_after_s)
    hot_left = (hot_until - utcnow()).total_seconds()
    if hot_left >= 1:
        answer = _pause(form, key, requested_at, get_settings().gate_suspend_after_s)
        if answer is not None:
            return answer
    return _suspend(form, f"{key}-suspended", requested_at + timedelta(seconds=timeout))


def _pause(form: type[Form], key: str, requested_at: datetime, timeout: float) -> Form | None:
    """Wait in-process for what is left of the timeout; None when it passes."""
    left = timeout - (utcnow() - requested_at).total_seconds()
    if left <= 0:  # a run taking over found the round already overdue
        return None
    try:
        answer: Form | None = pause_flow_run(  # type: ignore[call-overload]
            wait_for_input=form,
            timeout=max(1, math.ceil(left)),
            poll_interval=get_settings().gate_poll_interval_s,
            key=key,
        )
    except FlowPauseTimeout:
        _back_to_running()
        answer = None
    label_process(running_again=True)  # this process still drives the run
    return answer


def _suspend(form: type[Form], key: str, deadline: datetime) -> Form | None:
    """Suspend: the process exits and the flow starts again from the top when resumed.

    The deadline is irp's, not the server's (no server timeout: an expired suspension would
    only fail the run). The serve process reschedules a run whose deadline passed
    (deployments/deadlines.py); that re-entry finds the deadline gone and, unless an answer
    arrived first, returns None (timed out). On a re-entry after an answer, Prefect refuses
    the already-fired key and `suspend_flow_run` returns the stored answer.
    """
    if utcnow() >= deadline:
        return _stored_answer(form, key)
    return suspend_flow_run(wait_for_input=form, key=key)


def _stored_answer(form: type[Form], key: str) -> Form | None:
    """The answer a resume saved for this run's suspension `key`, if any."""
    value: dict[str, object] | None = read_flow_run_input(  # type: ignore[assignment]
        keyset_from_base_key(f"suspended-{key}")["response"]
    )
    return form.model_validate(value) if value else None


def _answer_given_to(
    flow_run_ids: frozenset[str], key: str, form: type[GateInput]
) -> GateInput | None:
    """An answer to this round that reached a run which then died (a person resumed a pause
    whose process was gone): it is the decision, not a reason to ask again."""
    for run_id in sorted(flow_run_ids - {flow_run.get_id()}):
        for pause_key in (f"paused-{key}", f"suspended-{key}-suspended"):
            value = read_flow_run_input(
                keyset_from_base_key(pause_key)["response"], flow_run_id=UUID(run_id)
            )
            if value:
                return form.model_validate(value)
    return None


def _announce(incident_id: str, plan: Plan, round_: GateRound, suspend: bool) -> None:
    policy = round_.policy
    # Notify first: once the timeline says "waiting", an answer may come before the pause.
    extra = {"gate": round_.gate, "gate_title": policy.title, "round": round_.number}
    extra |= {"deciders": round_.deciders, "question": policy.question}
    announce_gate(incident_id, "gate_waiting", plan, extra=extra, audiences=round_.deciders)
    if proven.required(round_):
        proven.send_codes(incident_id, plan, round_, notify_url())
    gate_waits.record_waiting(incident_id, round_, flow_run_id=flow_run.get_id(), suspended=suspend)
    publish_board(plan)


def _escalated(incident_id: str, plan: Plan, round_: GateRound) -> None:
    """A gate timed out and goes to the escalation roles: tell them and leadership."""
    policy = round_.policy
    extra = {"gate": round_.gate, "gate_title": policy.title, "round": round_.number + 1}
    extra |= {"deciders": policy.escalate_to, "question": policy.question}
    extra["timeout_s"] = policy.timeout_s
    announce_gate(incident_id, "gate_escalated", plan, extra=extra, audiences=policy.escalate_to)


def _form_text(
    incident_id: str, plan: Plan, round_: GateRound, context: str, refusal: gates.Refusal | None
) -> str:
    """The form's Markdown, led by why the last answer was refused if it was; masked, since
    the Prefect UI shows it."""
    policy = round_.policy
    who = ", ".join(f"`{r}` ({plan.organisation.roles[r].person})" for r in round_.deciders)
    shell = f'irp approve {incident_id} --decision approve --by <role> --comment "..."'
    if proven.required(round_):
        shell = shell.replace("<role>", "<person> --code <the code sent to you>")
    text = (
        f"### {policy.title} - {incident_id}\n\n{policy.question}\n\n{context}\n\n"
        f"**May decide:** {who}. Timeout {policy.timeout_s:g} s, then: {policy.on_timeout}.\n\n"
        f"From a shell: `{shell}`"
    )
    return with_refusal(text, refusal, plan) if refusal else plan_redactor(plan).redact(text)


REFUSAL_NOTE = "**Last answer by "


def with_refusal(description: str, refusal: gates.Refusal, plan: Plan) -> str:
    """A gate form's text led by why the last answer was refused (replacing an older note)."""
    if description.startswith(REFUSAL_NOTE):
        description = description.split("\n\n", 1)[-1]
    note = (
        f"{REFUSAL_NOTE}{refusal.approver} at {refusal.at:%Y-%m-%d %H:%M:%S} UTC "
        f"was refused:** {refusal.reason}"
    )
    return plan_redactor(plan).redact(f"{note}\n\n{description}")


def _back_to_running() -> None:
    """After a pause timeout Prefect leaves the run Paused; the policy decides what happens next."""
    run_id = flow_run.get_id()
    if run_id:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Running(), force=True)
