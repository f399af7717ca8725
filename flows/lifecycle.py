"""The stage skeleton every incident type walks (PLAN 4), written once.

report -> command (gate) -> response -> logistics -> cleanup (gate) -> post-incident report.
A stage already completed (the timeline says so) is skipped, so a re-run, a resumed suspended
run or a run recovery started after a crash continues where the incident stands: what was
graded, decided, recorded or announced is not done again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import State

from flows import gates
from flows.manual_tasks import evidence_first, work_for_people
from flows.report_parts import write_and_accept
from flows.run_names import name_run
from flows.run_process import label_process
from flows.triage import GATE as TRIAGE
from flows.triage import triage
from irp.drills.scenarios import drill_setup
from irp.duties.signoffs import signoffs
from irp.errors import ActionFailed
from irp.gates import service as gate_rules
from irp.gates.machine import GateOutcome
from irp.incidents import recovery, stages
from irp.plan.loader import get_plan
from models.enums import IncidentType, Stage
from models.intake import IncidentIntake
from models.plan import Plan
from tasks.board import publish_board
from tasks.cleanup import release_resources, undo_containment, verify_recovery
from tasks.command import grade_incident, override_priority
from tasks.common import untracked
from tasks.drills import score_drill
from tasks.intake import record_intake
from tasks.logistics import reserve_resources
from tasks.notify import announce, tick_clocks
from tasks.reporting import publish_report, write_report
from tasks.response import action_task, mark_contained, record_escalation, record_skipped


@dataclass
class Run:
    """What every stage needs to know about this run of an incident."""

    incident_id: str
    plan: Plan
    auto_approve: bool
    faults: dict[str, int] = field(default_factory=dict)
    shortfall: dict[str, int] = field(default_factory=dict)
    notify_url: str | None = None
    drill: bool = False
    unanswered: frozenset[str] = frozenset()
    with_people: bool = False

    @property
    def drill_policy_answers(self) -> bool:
        """Manual tasks are answered by the drill policy, on record as such: in a drill (or a
        run whose gates it decides), unless the drill is held with people."""
        return (self.drill or self.auto_approve) and not self.with_people

    def auto_decides(self, gate: str) -> bool:
        """The drill policy answers this gate (a drill scenario may leave one unanswered)."""
        return self.auto_approve and gate not in self.unanswered


def run_incident(
    incident_type: IncidentType,
    intake: IncidentIntake | None = None,
    *,
    incident_id: str | None = None,
    drill: bool = False,
    auto_approve: bool = False,
    plan_file: str | None = None,
    faults: dict[str, int] | None = None,
    notify_url: str | None = None,
    scenario: str | None = None,
    shortfall: dict[str, int] | None = None,
    with_people: bool = False,
) -> str:
    """Walk the plan for one incident and return its id (`with_people`: a drill's manual
    tasks go to their real owners instead of the drill policy)."""
    plan, unanswered = drill_setup(get_plan(plan_file), scenario)
    options: dict[str, Any] = {"auto_approve": auto_approve, "plan_file": plan_file}
    if scenario is not None:
        options["scenario"] = scenario
    incident_id = record_intake(incident_type, intake, incident_id, drill, options)
    name_run(incident_id)
    run = Run(incident_id, plan, auto_approve, faults=dict(faults or {}), notify_url=notify_url)
    run.shortfall, run.drill, run.unanswered = dict(shortfall or {}), drill, unanswered
    run.with_people = with_people
    _announce_once(run, "report_received")
    try:
        triaged = triage(incident_id, run.plan)  # a report without a type: the commander's call
        if triaged is not None:
            _settle(run, TRIAGE, triaged)
        for stage, body in STAGES:
            if stages.has_ended(incident_id):
                break
            _stage(run, stage, body)
    except recovery.Superseded:
        raise  # the run that took over owns the incident and its report
    except Exception:
        # The run fails (a re-run continues where it stopped), but the report shows
        # where the incident stands and what failed, so nobody waits for the re-run to read it.
        publish_report(
            run.incident_id,
            untracked(run.plan),
            write_report(run.incident_id, untracked(run.plan), close=False),
        )
        if run.drill:
            score_drill(run.incident_id, untracked(run.plan))
        raise
    _stage(run, Stage.post_incident_report, post_incident_report, always=True)
    return incident_id


def command(run: Run) -> None:
    """PLAN 4.2: grade, then the leadership group decides whether to activate the plan."""
    reasons = stages.graded_reasons(run.incident_id)
    if reasons is None:
        reasons = grade_incident(run.incident_id, untracked(run.plan))
    outcome = gates.decide(
        run.incident_id,
        "activation",
        run.plan,
        auto_approve=run.auto_decides("activation"),
        context="**Grading:** " + "; ".join(reasons),
    )
    _settle(run, "activation", outcome)
    if outcome is GateOutcome.proceed:
        stages.activate_plan(run.incident_id)
        _announce_once(run, "plan_activated", drill_file=run.auto_approve)


def response(run: Run) -> None:
    """PLAN 4.3: the type's playbook; every action runs even if one fails, then the manual
    tasks are worked by people; failures (an action's or a task's) escalate."""
    failed: list[str] = []
    planned = stages.planned_actions(run.incident_id, run.plan)
    for spec in (s for s in planned if not s.manual):
        if spec.gate is not None:
            outcome = gates.decide(
                run.incident_id,
                spec.gate,
                run.plan,
                auto_approve=run.auto_decides(spec.gate),
                context=f"**Action:** {spec.title}",
            )
            if outcome is not GateOutcome.proceed:
                record_skipped(run.incident_id, spec, f"gate {spec.gate}: {outcome}")
                continue
        params = dict(spec.params)
        if spec.key in run.faults:
            params["fail_times"] = run.faults[spec.key]
        state = cast(
            "State[Any]",
            action_task(spec)(run.incident_id, untracked(spec), params, return_state=True),
        )
        if state.is_failed():
            failed.append(spec.title)
    failed += work_for_people(run, [s for s in planned if s.manual])
    if failed:
        commander = run.plan.organisation.commander
        record_escalation(
            run.incident_id,
            Stage.response,
            f"Failed after retries: {', '.join(failed)}; escalated to {commander}",
            commander,
        )
        raise ActionFailed(
            f"{run.incident_id}: {len(failed)} action(s) failed: {', '.join(failed)}"
        )
    if mark_contained(run.incident_id):
        _announce_once(run, "contained")


def logistics(run: Run) -> None:
    """PLAN 4.4: reserve people and resources; a shortfall is escalated, never ignored."""
    shortfalls = reserve_resources(run.incident_id, untracked(run.plan), run.shortfall)
    if shortfalls:
        record_escalation(
            run.incident_id,
            Stage.logistics,
            f"Resource shortfall: {', '.join(shortfalls)}",
            run.plan.organisation.commander,
        )


def cleanup(run: Run) -> None:
    """PLAN 4.5: evidence first where required, undo containment, verify, each acting group
    signs off its cleanup and leadership last (a refusal ends the incident), release."""
    if stages.requires_evidence(run.incident_id, run.plan):
        evidence_first(run)
    undo_containment(run.incident_id, untracked(run.plan))
    verify_recovery(run.incident_id, untracked(run.plan))
    for signoff in signoffs(run.incident_id, run.plan):  # each acting group, leadership last
        gate = signoff.gate
        outcome = gates.decide(
            run.incident_id,
            gate,
            run.plan,
            auto_approve=run.auto_decides(gate),
            context=signoff.context,
        )
        _settle(run, gate, outcome)
        if outcome is not GateOutcome.proceed:
            break
    else:
        stages.confirm_restored(run.incident_id)
    release_resources(run.incident_id)


def post_incident_report(run: Run) -> None:
    """PLAN 4.6: the report closes the incident; while people are told, the report is
    published as artifacts and a drill is scored. Before that, the acting groups write their
    parts and leadership accepts the report (flows/report_parts.py)."""
    if not stages.has_ended(run.incident_id):
        gate, outcome = write_and_accept(run.incident_id, run.plan, run.auto_decides)
        _settle(run, gate, outcome)
    path = write_report(run.incident_id, untracked(run.plan))
    meanwhile: list[PrefectFuture[Any]] = [
        publish_report.submit(run.incident_id, untracked(run.plan), path)
    ]
    if run.drill:
        meanwhile.append(score_drill.submit(run.incident_id, untracked(run.plan)))
    _announce_once(run, "closed")
    _announce_once(run, "report_ready", extra={"report_path": path})
    for future in meanwhile:
        future.result()  # a failed upload or scoring fails the stage; a re-run redoes it


STAGES: tuple[tuple[Stage, Callable[[Run], None]], ...] = (
    (Stage.command, command),
    (Stage.response, response),
    (Stage.logistics, logistics),
    (Stage.cleanup, cleanup),
)


def _stage(run: Run, stage: Stage, body: Callable[[Run], None], *, always: bool = False) -> None:
    if not stages.begin_stage(run.incident_id, stage, flow_run.get_id(), again=always):
        return
    label_process()
    publish_board(run.plan)
    body(run)
    stages.finish_stage(run.incident_id, stage)
    tick_clocks(run.incident_id, run.plan, run.notify_url)
    publish_board(run.plan)


def _settle(run: Run, gate: str, outcome: GateOutcome) -> None:
    """Apply a stage gate's outcome: a priority override (once), or the incident ends cleanly."""
    change = gate_rules.settle_stage_gate(run.incident_id, gate, outcome)
    if change is not None:
        override_priority(run.incident_id, change.priority, change.by)


def _announce_once(run: Run, event: str, **options: Any) -> None:
    """Tell people once: a run that resumes or takes over does not say it again."""
    if stages.already_announced(run.incident_id, event):
        return
    announce(run.incident_id, event, run.plan, notify_url=run.notify_url, **options)
