"""The incident lifecycle end to end on a real Prefect server and a real SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from flows.registry import FLOWS
from irp.db import session_scope
from irp.gates import service as gates
from irp.incidents import timeline
from irp.response import actions
from irp.settings import get_settings
from models import Evidence, Incident, ResourceAllocation
from models.enums import ActionStatus, IncidentStatus, IncidentType, Stage
from models.intake import INTAKE_MODELS
from tests.factories import (
    breach_with_evidence,
    fast_retries,
    make_intake,
    plan_data,
    write_plan,
)
from tests.flows.answerer import BREACH_GROUPS, Answer, Answerer, closing

pytestmark = pytest.mark.usefixtures("prefect_api")

REPORT_SECTIONS = (
    "## 1. Course of events",
    "## 2. Measures taken",
    "## 3. Loss assessment",
    "## 4. Improvement suggestions",
)


def _incident(incident_id: str) -> Incident:
    with session_scope() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        return incident


def _kinds(incident_id: str) -> list[str]:
    with session_scope() as session:
        return [e.kind for e in timeline.events(session, incident_id)]


@pytest.mark.parametrize("incident_type", list(INTAKE_MODELS))
def test_every_type_runs_all_six_stages_and_writes_the_report(incident_type: IncidentType) -> None:
    intake = make_intake(
        incident_type, description="Reporter phone 13812345678, mail li.lei@example.com"
    )
    incident_id = FLOWS[incident_type](intake=intake, drill=True, auto_approve=True)

    incident = _incident(incident_id)
    assert incident.status == IncidentStatus.closed
    assert (
        incident.activated_at
        and incident.contained_at
        and incident.resolved_at
        and incident.closed_at
    )
    with session_scope() as session:
        completed = [
            e.stage for e in timeline.events(session, incident_id) if e.kind == "stage_completed"
        ]
        runs = actions.runs(session, incident_id)
        held = list(
            session.exec(
                select(ResourceAllocation).where(ResourceAllocation.incident_id == incident_id)
            )
        )
        custody = list(session.exec(select(Evidence).where(Evidence.incident_id == incident_id)))
    assert completed == [s.value for s in Stage if s != Stage.post_incident_report] + [
        "post_incident_report"
    ]
    assert runs and all(
        r.status in (ActionStatus.succeeded, ActionStatus.undone, ActionStatus.kept) for r in runs
    )
    assert all(r.undo_status in ("undone", "kept") for r in runs if r.containment)
    assert held and all(a.released_at is not None for a in held)
    if incident_type in (IncidentType.data_breach, IncidentType.insider_threat):
        assert custody and all(len(e.sha256) == 64 for e in custody)

    folder = get_settings().reports_dir / incident_id
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    for section in REPORT_SECTIONS:
        body = markdown.split(section, 1)[1].split("\n## ", 1)[0]
        assert body.strip() and "_none_" not in body.split("###", 1)[0], section
    assert "13812345678" not in markdown and "li.lei@example.com" not in markdown
    assert (folder / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert (
        (folder / "timeline.csv")
        .read_text(encoding="utf-8")
        .startswith("at,stage,kind,actor,message")
    )
    artifacts = _artifacts(incident_id)
    assert artifacts[f"{incident_id.lower()}-report"].type == "markdown"
    assert artifacts[f"{incident_id.lower()}-measures"].type == "table"
    assert "13812345678" not in str(artifacts[f"{incident_id.lower()}-report"].data)


def _artifacts(incident_id: str) -> dict[str, Any]:
    """The incident's artifacts as the Prefect API holds them, by key."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    prefix = ArtifactFilterKey(like_=f"{incident_id.lower()}-%")
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=prefix))
    return {a.key: a for a in found if a.key}


def test_gates_are_answered_through_the_real_resume_path() -> None:
    answers = [
        Answer("activation", "approve", "cio", comment="activate", priority="P2"),
        Answer("user_notice", "approve", "legal_counsel"),
        *closing(BREACH_GROUPS, Answer("signoff", "approve", "ciso")),
    ]
    with Answerer(answers, deadline_s=180) as answerer:
        incident_id = FLOWS[IncidentType.data_breach](incident_id=breach_with_evidence())
    assert answerer.errors == [] and answerer.exit_codes == [0] * len(answers)

    incident = _incident(incident_id)
    assert incident.status == IncidentStatus.closed
    assert incident.priority is not None and incident.priority.value == "P2"
    with session_scope() as session:
        decided = [
            (d.gate, d.approver_role, d.outcome) for d in gates.decisions(session, incident_id)
        ]
    assert decided == [
        ("activation", "cio", "proceed"),
        ("user_notice", "legal_counsel", "proceed"),
        ("signoff_technical", "it_manager", "proceed"),
        ("signoff_customer_service", "cs_manager", "proceed"),
        ("signoff_legal", "legal_manager", "proceed"),
        ("signoff", "ciso", "proceed"),
        ("report_acceptance", "ciso", "proceed"),
    ]
    assert "regraded" in _kinds(incident_id)


def test_a_decision_by_someone_the_plan_does_not_allow_is_refused_and_recorded() -> None:
    answers = [
        Answer("activation", "approve", "cs_agent"),  # refused by the CLI, exit 2
        Answer("activation", "approve", "CISO on duty"),  # the deputy, by name
        Answer("user_notice", "approve", "cio"),  # only legal may approve what users are told
        Answer("user_notice", "reject", "legal_manager", comment="wording not cleared"),
        *closing(BREACH_GROUPS, Answer("signoff", "approve", "cio")),
    ]
    with Answerer(answers, deadline_s=180) as answerer:
        incident_id = FLOWS[IncidentType.data_breach](incident_id=breach_with_evidence())
    assert answerer.errors == [] and answerer.exit_codes == [2, 0, 2, 0] + [0] * 8

    with session_scope() as session:
        refused = [d for d in gates.decisions(session, incident_id) if not d.accepted]
        asked = {
            (e.data["gate"], e.data["round"]): e.at
            for e in timeline.events(session, incident_id)
            if e.kind == "gate_waiting"
        }
        notify = actions.get_run(session, incident_id, "notify_affected_users")
    assert [(d.gate, d.approver) for d in refused] == [
        ("activation", "cs_agent"),
        ("user_notice", "cio"),
    ]
    # A refused round waited from its announcement, not from when the incident was opened.
    assert [d.requested_at for d in refused] == [asked[(d.gate, d.round)] for d in refused]
    assert notify is None  # the notice was rejected by legal: never sent
    assert "action_skipped" in _kinds(incident_id)
    assert _incident(incident_id).status == IncidentStatus.closed


def test_an_action_that_fails_twice_then_succeeds(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, fast_retries(plan_data()))
    incident_id = FLOWS[IncidentType.system_failure](
        intake=make_intake(IncidentType.system_failure),
        drill=True,
        auto_approve=True,
        plan_file=str(plan),
        faults={"fail_over": 2},
    )
    with session_scope() as session:
        run = actions.get_run(session, incident_id, "fail_over")
    assert run is not None and run.attempts == 3 and run.undo_status == "undone"
    assert _kinds(incident_id).count("action_attempt_failed") == 2
    report = (get_settings().reports_dir / incident_id / "report.md").read_text(encoding="utf-8")
    assert "needed 3 attempts" in report


def test_a_rejected_activation_ends_the_incident_cleanly() -> None:
    with Answerer([Answer("activation", "reject", "cio", comment="false positive")]) as answerer:
        incident_id = FLOWS[IncidentType.network_attack](
            intake=make_intake(IncidentType.network_attack)
        )
    assert answerer.exit_codes == [0]
    incident = _incident(incident_id)
    assert incident.status == IncidentStatus.rejected and incident.closed_at is not None
    with session_scope() as session:
        assert actions.runs(session, incident_id) == []
    assert (get_settings().reports_dir / incident_id / "report.md").exists()


@pytest.mark.parametrize(
    ("final", "status"), [("stop", IncidentStatus.stopped), ("proceed", IncidentStatus.closed)]
)
def test_a_gate_nobody_answers_escalates_then_follows_the_policy(
    tmp_path: Path, final: str, status: IncidentStatus
) -> None:
    data = fast_retries(plan_data())
    data["gates"]["activation"].update(
        timeout_s=1, escalate_to=["ciso"], max_escalations=1, on_final_timeout=final
    )
    plan = write_plan(tmp_path, data)
    answers = (
        []
        if final == "stop"
        else [
            Answer("user_notice", "approve", "legal_counsel"),
            *closing(BREACH_GROUPS, Answer("signoff", "approve", "cio")),
        ]
    )
    with Answerer(answers, deadline_s=180):
        incident_id = FLOWS[IncidentType.data_breach](
            incident_id=breach_with_evidence(), plan_file=str(plan)
        )
    with session_scope() as session:
        outcomes = [
            (d.decision, d.outcome, d.round)
            for d in gates.decisions(session, incident_id, "activation")
        ]
    assert outcomes == [("timeout", "escalate", 1), ("timeout", final, 2)]
    assert _incident(incident_id).status == status


def test_a_rerun_of_the_same_incident_does_not_repeat_completed_actions(tmp_path: Path) -> None:
    data = fast_retries(plan_data())
    for action in data["incident_types"]["system_failure"]["playbook"]:
        action["retries"] = 1
    plan = write_plan(tmp_path, data)
    flow = FLOWS[IncidentType.system_failure]
    state = flow(
        intake=make_intake(IncidentType.system_failure),
        drill=True,
        auto_approve=True,
        plan_file=str(plan),
        faults={"repair_component": 3},
        return_state=True,
    )
    assert state.is_failed()
    with session_scope() as session:
        incident_id = session.exec(select(Incident.id)).one()
        first = {r.action: r.attempts for r in actions.runs(session, incident_id)}
    assert first["repair_component"] == 2 and first["diagnose_failure"] == 1

    flow(
        incident_id=incident_id,
        drill=True,
        auto_approve=True,
        plan_file=str(plan),
        faults={"repair_component": 3},
    )

    with session_scope() as session:
        second = {r.action: r.attempts for r in actions.runs(session, incident_id)}
        events = timeline.events(session, incident_id)
    assert second["repair_component"] == 4
    assert {k: v for k, v in second.items() if k != "repair_component"} == {
        k: v for k, v in first.items() if k != "repair_component"
    } | {k: 1 for k in second if k not in first}
    decided = [e.data["gate"] for e in events if e.kind == "gate_decision"]
    assert len(decided) == len(set(decided)) >= 3  # each gate once: activation, sign-offs, report
    assert sum(1 for e in events if e.kind == "stage_completed" and e.stage == "command") == 1
    assert _incident(incident_id).status == IncidentStatus.closed
