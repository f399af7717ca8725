"""`python -m deployments.serve`: the process `irp up` runs to execute flow runs.

It serves one deployment per incident type (`<flow>/irp`, started from the UI's custom-run
form or by alert dispatch) and the plan's drill schedules, and watches the deadlines that pass
while runs wait for people: suspended gates and regulatory clocks (deployments/deadlines.py).

Missed drills: a drill whose scheduled time passed while irp was down is not caught up.
At start, scheduled runs more than `MISSED_GRACE` late are cancelled with a message saying
so (visible in the UI and to auditors); only future drills run. Stopping does not pause the
deployments (`pause_on_shutdown=False`): their schedules stay as the plan says.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, cast

from irp.notify import worker
from irp.settings import get_settings, point_prefect_at_stack

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

MISSED_GRACE = timedelta(minutes=10)
logger = logging.getLogger("irp.serve")


def incident_deployments() -> list[RunnerDeployment]:
    """One deployment per incident type, its custom-run form the type's intake; then
    `report-incident/irp`, the short form for whoever discovers an incident."""
    from prefect.deployments.runner import EntrypointType

    from deployments.forms import with_intake_form
    from deployments.names import DEPLOYMENT
    from flows.registry import FLOWS
    from flows.report_incident import report_incident

    flows: list[tuple[Flow[..., str], str, str]] = [
        (flow, itype.cli_name, "intake") for itype, flow in FLOWS.items()
    ]
    flows.append((report_incident, "report", "report"))
    return [
        with_intake_form(
            cast(
                "RunnerDeployment",
                flow.to_deployment(
                    name=DEPLOYMENT,
                    description=(flow.description or "").split("\n")[0],
                    tags=["irp", tag],
                    entrypoint_type=EntrypointType.MODULE_PATH,
                ),
            ),
            field,
        )
        for flow, tag, field in flows
    ]


def extra_deployments() -> list[RunnerDeployment]:
    """Deployments served next to the incident ones: the plan's scheduled drills."""
    from deployments.drills import scheduled_drill_deployments
    from irp.plan.loader import get_plan

    plan_file = get_settings().plan_file
    name = str(plan_file) if plan_file else None
    return list(scheduled_drill_deployments(get_plan(name), name))


def module_entrypoint(deployment: RunnerDeployment) -> RunnerDeployment:
    """Turn a file-path entrypoint (`flows/x.py:f`) into a module path (`flows.x.f`)."""
    from prefect.deployments.runner import EntrypointType

    entrypoint = deployment.entrypoint or ""
    if deployment.entrypoint_type == EntrypointType.FILE_PATH and ":" in entrypoint:
        path, function = entrypoint.rsplit(":", 1)
        module = path.removesuffix(".py").replace("/", ".").strip(".")
        deployment.entrypoint = f"{module}.{function}"  # the engine imports it by module
    return deployment


def cancel_missed_runs(deployments: list[RunnerDeployment], grace: timedelta = MISSED_GRACE) -> int:
    """Cancel schedule-made runs of these deployments that should have started long ago."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateName,
    )
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelled

    from models.base import utcnow

    scheduled = [d for d in deployments if d.schedules]
    if not scheduled:
        return 0
    cutoff = utcnow() - grace
    cancelled = 0
    with get_client(sync_client=True) as client:
        ids = []
        for d in scheduled:
            try:
                ids.append(client.read_deployment_by_name(f"{d.flow_name}/{d.name}").id)
            except ObjectNotFound:
                continue  # first start: nothing was scheduled yet
        if not ids:
            return 0
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=ids)),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Scheduled", "Late"])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=cutoff),  # type: ignore[arg-type]
            ),
            limit=200,
        )
        for run in runs:
            if not run.auto_scheduled:
                continue
            client.set_flow_run_state(
                run.id,
                Cancelled(message="Missed: irp was not running at the scheduled time"),
                force=True,
            )
            cancelled += 1
    return cancelled


@contextmanager
def _quiet_stop_while_preparing() -> Iterator[None]:
    """SIGINT or SIGTERM before the runner takes over ends the process without a traceback.
    Afterwards Prefect's own handling applies: the runner stops gracefully on either."""

    def leave(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, leave) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main() -> None:
    """Serve until SIGTERM / Ctrl-C; runs that are waiting stay suspended in the database."""
    with _quiet_stop_while_preparing():
        point_prefect_at_stack()
        from prefect import serve

        from deployments.deadlines import start_deadline_watch

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        deployments = [module_entrypoint(d) for d in incident_deployments() + extra_deployments()]
        missed = cancel_missed_runs(deployments)
        if missed:
            logger.warning("cancelled %d drill run(s) missed while irp was down", missed)
        stop = start_deadline_watch(max(1.0, get_settings().gate_poll_interval_s))
        worker.start()  # sends what flows, the deadline watch and earlier runs queued
    try:
        serve(
            *deployments,
            pause_on_shutdown=False,
            print_starting_message=True,
            limit=get_settings().run_limit,
        )
    finally:
        stop.set()  # no deadline check may outlive the runner: the server may be gone
        worker.stop()


if __name__ == "__main__":
    main()
