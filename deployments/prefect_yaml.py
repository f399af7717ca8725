"""`prefect.yaml` written from the deployments serve builds, so both ways to run carry the same
incident deployments, drill schedules and deadline watch.

`make prefect-yaml` (`python -m deployments.prefect_yaml`) rewrites it from the shipped plan;
`--check` exits 1 when the file differs (tests/deployments/test_prefect_yaml.py runs it). A plan
with other drills: `IRP_PLAN_FILE=my-plan.yaml python -m deployments.prefect_yaml -o FILE`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from irp.settings import HEARTBEAT_S

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

WORK_POOL = "irp"
PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"
HEADER = """\
# Written by `make prefect-yaml` (deployments/prefect_yaml.py) from what `irp up` serves
# (deployments/serve.py): the incident deployments, the plan's drill schedules and the deadline
# watch. Do not edit by hand. For hosts that run Prefect workers instead of serve:
#   prefect work-pool create irp --type process
#   prefect deploy --all
#   prefect worker start --pool irp          (on each host, IRP_DATABASE_URL set)
# Forms: serve gives the incident deployments a reporter's custom-run form (deployments/forms.py);
# `prefect deploy` builds each form from the flow's whole signature (drill knobs visible).
"""


def pool_deployments() -> list[RunnerDeployment]:
    """What serve runs, plus the deadline watch that serve keeps in a thread."""
    from deployments.serve import extra_deployments, incident_deployments, module_entrypoint
    from deployments.watch import watch_deployment

    built = incident_deployments() + extra_deployments() + [watch_deployment()]
    return [module_entrypoint(d) for d in built]


def deployment_entry(deployment: RunnerDeployment) -> dict[str, Any]:
    """One `deployments:` entry: the fields `prefect deploy` reads."""
    entry: dict[str, Any] = {
        "name": deployment.name,
        "entrypoint": deployment.entrypoint,
        "description": deployment.description,
        "tags": list(deployment.tags),
    }
    if deployment.parameters:
        entry["parameters"] = deployment.parameters
    schedules = [_schedule(s.schedule) for s in deployment.schedules or []]
    if schedules:
        entry["schedules"] = schedules
    if deployment.concurrency_limit is not None:
        options = deployment.concurrency_options
        entry["concurrency_limit"] = (
            {
                "limit": deployment.concurrency_limit,
                "collision_strategy": options.collision_strategy.value,
            }
            if options is not None
            else deployment.concurrency_limit
        )
    # Workers pass the environment they run in; Prefect's own heartbeat default (180 s) would
    # leave a lost host's runs Running for 4.5 minutes before the zombie automation fires.
    heartbeat = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_S)}
    entry["work_pool"] = {"name": WORK_POOL, "job_variables": {"env": heartbeat}}
    return entry


def _schedule(schedule: Any) -> dict[str, Any]:
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    if isinstance(schedule, CronSchedule):
        return {"cron": schedule.cron, "timezone": schedule.timezone}
    if isinstance(schedule, IntervalSchedule):
        return {"interval": schedule.interval.total_seconds(), "timezone": schedule.timezone}
    raise TypeError(f"no prefect.yaml form for {type(schedule).__name__}")


def render() -> str:
    document = {
        "name": "irp",
        "prefect-version": _prefect_version(),
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}],
        "deployments": [deployment_entry(d) for d in pool_deployments()],
    }
    return HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _prefect_version() -> str:
    import prefect

    return str(prefect.__version__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deployments.prefect_yaml")
    parser.add_argument("-o", "--output", type=Path, default=PREFECT_YAML)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    from irp.settings import point_prefect_at_stack

    point_prefect_at_stack()
    text = render()
    current = args.output.read_text() if args.output.exists() else ""
    if args.check:
        if current != text:
            print(f"{args.output} is out of date: run `make prefect-yaml`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
