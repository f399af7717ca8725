"""Drill schedules: each scenario in the plan becomes a scheduled deployment of its type's flow.

`irp up` serves these next to the four incident deployments. A drill run uses simulated
executors, injects the scenario's faults and ends with a scorecard and an evidence report.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule

from flows.registry import FLOWS
from models.plan import Plan
from models.plan_drills import DrillScenario


def drill_parameters(
    name: str, scenario: DrillScenario, plan_file: str | None = None
) -> dict[str, Any]:
    """The flow parameters of one drill run: an intake with the scenario's facts, drill mode."""
    intake = scenario.filed_intake(name)
    return {
        "intake": intake.model_dump(mode="json", exclude_defaults=True),
        "drill": True,
        "auto_approve": scenario.auto_approve,
        "with_people": scenario.with_people,
        "plan_file": plan_file,
        "faults": dict(scenario.faults),
        "shortfall": dict(scenario.shortfall),
        "scenario": name,
    }


def _schedule(scenario: DrillScenario, timezone: str) -> Schedule | None:
    if scenario.cron is not None:
        return Cron(scenario.cron, timezone=timezone)
    if scenario.interval_s is not None:
        return Interval(timedelta(seconds=scenario.interval_s), timezone=timezone)
    return None


def scheduled_drill_deployments(plan: Plan, plan_file: str | None = None) -> list[RunnerDeployment]:
    """One deployment `<flow>/drill-<scenario>` per scheduled scenario, ready for `serve()`.

    At most one run of a drill at a time: after downtime a backlog of missed runs does not
    pile up concurrently.
    """
    deployments: list[RunnerDeployment] = []
    for name, scenario in plan.drills.scenarios.items():
        schedule = _schedule(scenario, plan.drills.timezone)
        if schedule is None:
            continue
        flow = FLOWS[scenario.incident_type]
        deployment = flow.to_deployment(
            name=f"drill-{name}",
            schedules=[schedule],
            parameters=drill_parameters(name, scenario, plan_file),
            description=f"Scheduled drill: {scenario.title}",
            tags=["drill", scenario.incident_type.cli_name],
            concurrency_limit=1,
        )
        assert isinstance(deployment, RunnerDeployment)  # the sync form, outside an event loop
        deployments.append(deployment)
    return deployments
