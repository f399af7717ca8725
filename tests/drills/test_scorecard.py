"""Scorecard logic on a hand-made timeline: no Prefect, exact seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from irp.db import session_scope
from irp.drills import scoring as drills
from irp.errors import PlanError
from irp.incidents import timeline
from irp.incidents.service import open_incident
from irp.plan.loader import get_plan, load_plan
from irp.reporting import report as reporting
from models import ActionRun, GateDecision, ResourceAllocation
from models.enums import ActionStatus, IncidentStatus, IncidentType
from models.plan_drills import DrillTargets
from models.report import DataBreachReport
from tests.factories import plan_data, write_plan

T0 = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
TARGETS = DrillTargets.model_validate(
    {
        "stages": {"command": 60, "response": 600, "logistics": 60, "cleanup": 300},
        "gates": {"activation": 30, "user_notice": 120, "signoff": 60},
    }
)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _events() -> pd.DataFrame:
    marks = [
        ("command", "stage_started", 0),
        ("command", "stage_completed", 45),  # 45 s: met (60)
        ("response", "stage_started", 45),
        ("response", "stage_completed", 745),  # 700 s: missed (600)
        ("logistics", "stage_started", 745),
        ("logistics", "stage_completed", 750),  # 5 s: met
        ("cleanup", "stage_started", 750),  # never completed
    ]
    return pd.DataFrame(
        [
            {"at": _at(s), "stage": st, "kind": k, "actor": "irp", "message": ""}
            for st, k, s in marks
        ]
    )


def _gate(
    gate: str,
    round_: int,
    decision: str,
    outcome: str,
    asked: float,
    answered: float,
    approver: str = "cio",
    accepted: bool = True,
) -> dict[str, object]:
    return {
        "gate": gate,
        "round": round_,
        "decision": decision,
        "outcome": outcome,
        "approver": approver,
        "accepted": accepted,
        "requested_at": _at(asked),
        "decided_at": _at(answered),
    }


def test_stage_durations_are_scored_against_targets() -> None:
    rows = drills.score_stages(reporting.stage_durations(_events()), TARGETS)
    got = {r["name"]: (r["actual_s"], r["result"]) for r in rows}
    assert got == {
        "command": (45.0, "met"),
        "response": (700.0, "missed"),
        "logistics": (5.0, "met"),
        "cleanup": (None, "not reached"),
    }


def test_gate_answer_time_runs_from_first_request_to_the_settling_decision() -> None:
    gate_rows = [
        _gate("activation", 1, "approve", "proceed", 2, 20),  # 18 s: met (30)
        _gate("user_notice", 1, "approve", "refused", 50, 70, approver="cs_agent", accepted=False),
        _gate("user_notice", 2, "approve", "proceed", 70, 200, approver="legal_counsel"),
        _gate("signoff", 1, "timeout", "escalate", 750, 760, approver="timeout"),
        _gate("signoff", 2, "timeout", "stop", 760, 770, approver="timeout"),
    ]
    rows = {r["name"]: r for r in drills.score_gates(gate_rows, TARGETS)}
    assert (rows["activation"]["actual_s"], rows["activation"]["result"]) == (18.0, "met")
    # 150 s from the first request, the refused answer does not settle it: missed (120)
    assert (rows["user_notice"]["actual_s"], rows["user_notice"]["result"]) == (150.0, "missed")
    assert rows["user_notice"]["note"] == "by legal_counsel"
    # a gate nobody answered misses its target even though 20 s < 60 s
    assert rows["signoff"]["result"] == "missed" and "timed out -> stop" in str(
        rows["signoff"]["note"]
    )


def test_gaps_and_follow_ups_name_failed_actions_timeouts_and_shortfalls() -> None:
    plan = get_plan()
    measures = pd.DataFrame(
        [
            {
                "action": "revoke_exposed_credentials",
                "title": "Revoke",
                "group": "technical",
                "status": "succeeded",
                "attempts": 3,
            },
            {
                "action": "assess_leak_scope",
                "title": "Assess",
                "group": "technical",
                "status": "failed",
                "attempts": 4,
            },
            {
                "action": "legal_assessment",
                "title": "Legal",
                "group": "legal",
                "status": "succeeded",
                "attempts": 1,
            },
        ]
    )
    gate_rows = [_gate("signoff", 1, "timeout", "stop", 0, 10, approver="timeout")]
    scores = drills.score_stages(reporting.stage_durations(_events()), TARGETS)
    gaps, follow = drills.find_gaps(
        plan, measures, gate_rows, [("spare_servers", 2)], scores, {"notify_affected_users": 1}
    )
    assert gaps == [
        "Action 'revoke_exposed_credentials' needed 3 attempts",
        "Action 'assess_leak_scope' failed after 4 attempts",
        "Injected fault on 'notify_affected_users' had no effect: the action did not run",
        "Gate 'signoff' round 1 timed out (stop)",
        "Resource shortfall: 2 x spare_servers",
        "Stage 'response' missed its target",
        "Stage 'cleanup' not reached its target",
    ]
    owners = [owner for owner, _ in follow]
    assert owners == ["technical", "technical", "cio", "cio", "logistics", "cio", "cio"]


def test_a_fault_on_an_action_a_drill_held_back_is_a_gap() -> None:
    """The action was described, not run (issue 11): the injected fault tested nothing."""
    measures = pd.DataFrame(
        [{"action": "fail_over", "title": "Fail over", "group": "technical"}]
    ).assign(status="not_run", attempts=0)
    gaps, _ = drills.find_gaps(get_plan(), measures, [], [], [], {"fail_over": 2})
    assert gaps == ["Injected fault on 'fail_over' had no effect: the action did not run"]


def test_scorecard_from_the_database_names_participants_and_groups() -> None:
    plan = get_plan()
    with session_scope() as session:
        report = DataBreachReport(summary="Hand-made drill", reporter="drill scheduler")
        incident = open_incident(session, IncidentType.data_breach, report, drill=True)
        incident.status = IncidentStatus.closed
        for stage, kind, seconds in [
            ("command", "stage_started", 0),
            ("command", "stage_completed", 30),
        ]:
            timeline.record(session, incident.id, stage, kind, "", at=_at(seconds))
        session.add(
            GateDecision(
                incident_id=incident.id,
                gate="activation",
                stage="command",
                decision="approve",
                outcome="proceed",
                approver="CIO on duty",
                approver_role="cio",
                requested_at=_at(1),
                decided_at=_at(11),
            )
        )
        session.add(
            ActionRun(
                incident_id=incident.id,
                action="legal_assessment",
                title="Legal",
                stage="response",
                group="legal",
                executor="simulate",
                status=ActionStatus.succeeded,
                attempts=1,
            )
        )
        session.add(
            ResourceAllocation(
                incident_id=incident.id, resource="cs_agents", requested=5, reserved=5
            )
        )
        session.flush()
        card = drills.build_scorecard(session, plan, incident)
        drills.save_scores(session, incident, card)
        drills.save_scores(session, incident, card)  # scoring again replaces, never adds
        saved = drills.scores_since(session, T0 - timedelta(days=1))
    assert card.participants == ["drill scheduler", "CIO on duty (cio)"]
    assert card.groups == ["customer_service", "leadership", "legal"]
    assert card.scores.set_index("name").loc["activation", "actual_s"] == 10.0
    assert len(saved) == card.total + len(card.gaps)


def test_plan_refuses_a_scenario_that_names_nothing(tmp_path: object) -> None:
    from pathlib import Path

    data = plan_data()
    data["drills"]["scenarios"]["system-failure-quarterly"]["faults"] = {"no_such_action": 1}
    data["drills"]["scenarios"]["system-failure-quarterly"]["unanswered_gates"] = ["nope"]
    data["drills"]["scenarios"]["system-failure-quarterly"]["shortfall"] = {"cs_agents": 1}
    path = write_plan(Path(str(tmp_path)), data)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    text = str(caught.value)
    assert "drills.scenarios.system-failure-quarterly.faults.no_such_action" in text
    assert "unanswered_gates.0: unknown gate 'nope'" in text
    assert "'cs_agents' is not a resource this type needs" in text
