"""The deadline and recovery watch as a deployment, for hosts that run Prefect workers instead
of `deployments.serve` (prefect.yaml): serve keeps the same watch in a thread.

A run is scheduled every WATCH_MINUTES and watches until HANDOVER_S before the next one is
due, counted from its own scheduled start: the deployment's concurrency limit (CANCEL_NEW) keeps
one run at a time across every worker, so a run still watching when the next is picked up (a
worker takes runs up to 10 s early) would get that one cancelled and leave a whole interval
unwatched. Each run first cancels drills missed while nothing ran, as serve does at its start.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from prefect import flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Interval

from deployments.deadlines import watch_deadlines
from irp.settings import get_settings

WATCH_MINUTES = 5.0
HANDOVER_S = 30.0
WATCH_DEPLOYMENT = "irp"


def watch_seconds(scheduled_start: datetime, minutes: float, now: datetime) -> float:
    """How long a run scheduled at `scheduled_start` still watches: up to `minutes` after that
    time, not after it (a late start watches less rather than overlapping the next run)."""
    return max(0.0, (scheduled_start + timedelta(minutes=minutes) - now).total_seconds())


@flow(name="deadline-watch", log_prints=True)
def deadline_watch(minutes: float = WATCH_MINUTES - HANDOVER_S / 60) -> None:
    """Reschedule timed-out suspended gates, send clock reminders and recover stranded
    incidents until `minutes` after this run's scheduled start, then end (the next scheduled
    run takes over)."""
    from prefect.runtime import flow_run

    from deployments.serve import cancel_missed_runs, extra_deployments
    from models.base import utcnow

    missed = cancel_missed_runs(extra_deployments())
    if missed:
        print(f"cancelled {missed} drill run(s) missed while irp was down")
    stop = threading.Event()
    seconds = watch_seconds(flow_run.scheduled_start_time, minutes, utcnow())
    timer = threading.Timer(seconds, stop.set)
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
