"""The deadline and recovery watch as a deployment, for hosts that run Prefect workers instead
of `deployments.serve` (prefect.yaml): serve keeps the same watch in a thread.

A run watches for WATCH_MINUTES and ends; its schedule starts the next one, and the
deployment's concurrency limit (CANCEL_NEW) keeps one run at a time across every worker. Each
run first cancels drills missed while nothing ran, as serve does at its start.
"""

from __future__ import annotations

import threading

from prefect import flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Interval

from deployments.deadlines import watch_deadlines
from irp.settings import get_settings

WATCH_MINUTES = 5.0
WATCH_DEPLOYMENT = "irp"


@flow(name="deadline-watch", log_prints=True)
def deadline_watch(minutes: float = WATCH_MINUTES) -> None:
    """Reschedule timed-out suspended gates, send clock reminders and recover stranded
    incidents for `minutes`, then end (the next scheduled run takes over)."""
    from deployments.serve import cancel_missed_runs, extra_deployments

    missed = cancel_missed_runs(extra_deployments())
    if missed:
        print(f"cancelled {missed} drill run(s) missed while irp was down")
    stop = threading.Event()
    timer = threading.Timer(minutes * 60, stop.set)
    timer.start()
    try:
        watch_deadlines(stop, max(1.0, get_settings().gate_poll_interval_s))
    finally:
        timer.cancel()


def watch_deployment() -> RunnerDeployment:
    """`deadline-watch/irp`: every WATCH_MINUTES, one run at a time."""
    deployment = deadline_watch.to_deployment(
        name=WATCH_DEPLOYMENT,
        description="Deadlines, clock reminders and recovery for work-pool hosts.",
        tags=["irp", "watch"],
        schedules=[Interval(WATCH_MINUTES * 60)],
        concurrency_limit=ConcurrencyLimitConfig(
            limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
        ),
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, RunnerDeployment)  # the sync form, outside an event loop
    return deployment
