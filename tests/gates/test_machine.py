"""The gate state machine without a database or Prefect: every transition, table-driven, and
properties that hold for any policy and any answer."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from irp.gates.machine import (
    ANSWERS,
    Answer,
    Decision,
    GateOutcome,
    GateRound,
    Verdict,
    before_asking,
    judge,
    resolve_role,
)
from irp.plan.loader import get_plan
from models.enums import Priority
from models.plan import DrillPolicy, GatePolicy, Plan

pytestmark = pytest.mark.no_database

PLAN = get_plan(None)
ROLES = sorted(PLAN.organisation.roles)
DRILL_AT_ONCE = DrillPolicy(auto_decide_after_s=0, decider="drill-policy")
DRILL_AFTER_5S = DrillPolicy(auto_decide_after_s=5, decider="drill-policy")


def policy(**changes: Any) -> GatePolicy:
    """The plan's activation gate (cio/ciso decide; ciso after a timeout), changed."""
    return PLAN.gates["activation"].model_copy(update=changes)


def round_(
    number: int = 1, escalations: int = 0, auto: DrillPolicy | None = None, **changes: Any
) -> GateRound:
    return GateRound("activation", policy(**changes), number, escalations, auto)


TIMEOUT = "timeout"
SILENCE: list[tuple[str, GateRound, GateOutcome, str]] = [
    ("escalates while escalations remain", round_(), GateOutcome.escalate, TIMEOUT),
    (
        "final timeout follows on_final_timeout: stop",
        round_(2, 1, on_final_timeout="stop"),
        GateOutcome.stop,
        TIMEOUT,
    ),
    (
        "final timeout follows on_final_timeout: proceed",
        round_(2, 1, on_final_timeout="proceed"),
        GateOutcome.proceed,
        TIMEOUT,
    ),
    (
        "no escalations allowed: straight to the final rule",
        round_(max_escalations=0, on_final_timeout="stop"),
        GateOutcome.stop,
        TIMEOUT,
    ),
    ("on_timeout proceed", round_(on_timeout="proceed"), GateOutcome.proceed, TIMEOUT),
    ("on_timeout stop", round_(on_timeout="stop"), GateOutcome.stop, TIMEOUT),
    (
        "on_timeout stop ignores escalations left",
        round_(on_timeout="stop", max_escalations=3),
        GateOutcome.stop,
        TIMEOUT,
    ),
    (
        "the drill policy approves for nobody",
        round_(auto=DRILL_AFTER_5S, on_timeout="stop"),
        GateOutcome.proceed,
        "drill-policy",
    ),
]


@pytest.mark.parametrize(
    ("gate_round", "outcome", "approver"), [c[1:] for c in SILENCE], ids=[c[0] for c in SILENCE]
)
def test_silence(gate_round: GateRound, outcome: GateOutcome, approver: str) -> None:
    verdict = judge(gate_round, None, PLAN)
    assert (verdict.outcome, verdict.approver, verdict.role) == (outcome, approver, None)
    expected = Decision.approve if gate_round.auto else Decision.timeout
    assert verdict.decision is expected and verdict.accepted


ANSWERED: list[tuple[str, GateRound, Answer, GateOutcome, str | None]] = [
    ("approve", round_(), Answer(Decision.approve, "cio"), GateOutcome.proceed, "cio"),
    ("reject", round_(), Answer(Decision.reject, "ciso"), GateOutcome.reject, "ciso"),
    ("escalate", round_(), Answer(Decision.escalate, "cio"), GateOutcome.escalate, "cio"),
    (
        "a person by the plan's name",
        round_(),
        Answer(Decision.approve, "  CISO on Duty "),
        GateOutcome.proceed,
        "ciso",
    ),
    (
        "a role the gate does not name",
        round_(),
        Answer(Decision.approve, "cs_agent"),
        GateOutcome.refused,
        "cs_agent",
    ),
    (
        "nobody the plan knows",
        round_(),
        Answer(Decision.approve, "13812345678"),
        GateOutcome.refused,
        None,
    ),
    (
        "after an escalation only the escalation roles decide",
        round_(2, 1),
        Answer(Decision.approve, "cio"),
        GateOutcome.refused,
        "cio",
    ),
    (
        "the escalation role after an escalation",
        round_(2, 1),
        Answer(Decision.approve, "ciso"),
        GateOutcome.proceed,
        "ciso",
    ),
    (
        "no escalation roles: the deciders stay",
        round_(2, 1, escalate_to=[]),
        Answer(Decision.approve, "cio"),
        GateOutcome.proceed,
        "cio",
    ),
    (
        "a person's answer beats the drill policy",
        round_(auto=DRILL_AFTER_5S),
        Answer(Decision.reject, "cio"),
        GateOutcome.reject,
        "cio",
    ),
]


@pytest.mark.parametrize(
    ("gate_round", "answer", "outcome", "role"),
    [c[1:] for c in ANSWERED],
    ids=[c[0] for c in ANSWERED],
)
def test_answers(
    gate_round: GateRound, answer: Answer, outcome: GateOutcome, role: str | None
) -> None:
    verdict = judge(gate_round, answer, PLAN)
    assert (verdict.outcome, verdict.decision, verdict.role) == (outcome, answer.decision, role)
    assert verdict.approver == answer.approver
    assert verdict.accepted == (outcome is not GateOutcome.refused)


def test_a_refusal_says_who_may_decide_and_masks_the_answerer() -> None:
    verdict = judge(round_(), Answer(Decision.approve, "13812345678", "call me"), PLAN)
    assert verdict.reason == (
        "'138****5678' may not decide gate 'activation'; "
        "allowed: cio (CIO on duty), ciso (CISO on duty)"
    )
    assert verdict.comment == "call me" and verdict.priority_override is None


def test_a_priority_override_goes_with_a_final_answer_only() -> None:
    def override(decision: Decision) -> Priority | None:
        answer = Answer(decision, "cio", "why", Priority.P1)
        return judge(round_(), answer, PLAN).priority_override

    assert override(Decision.approve) is Priority.P1
    assert override(Decision.reject) is Priority.P1
    assert override(Decision.escalate) is None


@pytest.mark.parametrize(
    ("auto", "verdict"),
    [
        (None, None),
        (DRILL_AFTER_5S, None),
        (DRILL_AT_ONCE, Verdict(GateOutcome.proceed, Decision.approve, "drill-policy")),
    ],
    ids=["people decide", "drill policy after a wait", "drill policy at once"],
)
def test_before_asking(auto: DrillPolicy | None, verdict: Verdict | None) -> None:
    assert before_asking(round_(auto=auto)) == verdict


def test_the_round_waits_the_plans_timeout_or_the_drill_policys() -> None:
    assert round_().wait_s == 900
    assert round_(auto=DRILL_AFTER_5S).wait_s == 5


@pytest.mark.parametrize(
    ("outcome", "escalations"),
    [(GateOutcome.escalate, 3), (GateOutcome.refused, 2)],
)
def test_the_next_round(outcome: GateOutcome, escalations: int) -> None:
    after = round_(4, 2).after(Verdict(outcome, Decision.escalate, "cio"))
    assert (after.number, after.escalations) == (5, escalations)


def test_settling_outcomes() -> None:
    settling = {o for o in GateOutcome if o.settles}
    assert settling == {GateOutcome.proceed, GateOutcome.reject, GateOutcome.stop}


def test_roles_by_id_or_name() -> None:
    assert resolve_role(PLAN, "CIO") == "cio"
    assert resolve_role(PLAN, "legal counsel on duty") == "legal_counsel"
    assert resolve_role(PLAN, "someone") is None


policies = st.builds(
    policy,
    on_timeout=st.sampled_from(["escalate", "proceed", "stop"]),
    on_final_timeout=st.sampled_from(["proceed", "stop"]),
    max_escalations=st.integers(0, 4),
    escalate_to=st.lists(st.sampled_from(ROLES), max_size=3, unique=True),
)
answers = st.builds(
    Answer,
    st.sampled_from(ANSWERS),
    st.sampled_from([*ROLES, "CIO on duty", "13812345678", "nobody"]),
    st.text(max_size=20),
    st.none() | st.sampled_from(Priority),
)


def _walk(start: GateRound, plan: Plan) -> list[Verdict]:
    """Nobody ever answers: the rounds until one settles (bounded: it must settle)."""
    verdicts, gate_round = [], start
    for _ in range(start.policy.max_escalations + 2):
        verdicts.append(judge(gate_round, None, plan))
        if verdicts[-1].outcome.settles:
            return verdicts
        gate_round = gate_round.after(verdicts[-1])
    return verdicts


@given(policies)
def test_silence_settles_within_the_allowed_escalations(gate_policy: GatePolicy) -> None:
    verdicts = _walk(GateRound("activation", gate_policy, 1), PLAN)
    assert verdicts[-1].outcome.settles
    escalations = [v for v in verdicts if v.outcome is GateOutcome.escalate]
    assert len(escalations) <= gate_policy.max_escalations
    assert all(v.decision is Decision.timeout and v.timed_out_to_escalation for v in escalations)


@given(policies, st.integers(0, 5))
def test_silence_proceeds_only_where_the_plan_says_so(
    gate_policy: GatePolicy, escalations: int
) -> None:
    verdict = judge(GateRound("activation", gate_policy, 1, escalations), None, PLAN)
    assert verdict.outcome is not GateOutcome.reject and verdict.accepted
    if verdict.outcome is GateOutcome.proceed:
        assert "proceed" in (gate_policy.on_timeout, gate_policy.on_final_timeout)


@given(policies, st.integers(0, 5), answers)
def test_only_an_allowed_decider_moves_a_gate(
    gate_policy: GatePolicy, escalations: int, answer: Answer
) -> None:
    gate_round = GateRound("activation", gate_policy, 3, escalations)
    verdict = judge(gate_round, answer, PLAN)
    allowed = resolve_role(PLAN, answer.approver) in gate_round.deciders
    assert verdict.accepted == allowed
    if not allowed:
        assert verdict.outcome is GateOutcome.refused and verdict.reason
        assert gate_round.after(verdict).deciders == gate_round.deciders  # asked again alike
    elif answer.decision is Decision.approve:
        assert verdict.outcome is GateOutcome.proceed
    else:
        assert verdict.outcome is not GateOutcome.proceed
