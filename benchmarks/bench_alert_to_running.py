"""Alert received -> flow run Running, on the default stack (`irp up`: PostgreSQL, served
deployments, the webhook), against Prefect's own cost of starting a run.

Interleaved samples: an Alertmanager alert opening a new incident, then `run_deployment` of a
no-op flow served by its own `serve()` process on the same server (the runner polls every second
in both). Each latency ends at the Running state's timestamp. Gate waits suspend after 2 s, so
waiting incidents do not keep processes that would slow the samples after them.

`alert_to_running_ratio_p50` / `_p95`: irp's median and p95 over Prefect's (target <= 1.3).
`alert_to_run_created_*`: the part of irp's latency spent before Prefect has the run (the alert
committed, the dispatcher's `run_deployment`); the rest is Prefect starting it.
`alert_to_command_stage_*`: until the flow entered its first stage (command: the incident graded
next), so work moved from before Running to after it would show here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import sqlalchemy as sa

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

from benchmarks.stack_support import LiveStack, open_by_alert, running_stack, spread, until

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "10"))
BARE = "bare-flow/bench"


def bare_flow() -> None:
    """The baseline: nothing, so what is measured is what Prefect alone costs."""


def serve_bare() -> None:
    """Child process: serve the baseline (a module-level function: the runner loads it by its
    entrypoint in each flow-run process)."""
    from prefect import flow, serve
    from prefect.deployments.runner import RunnerDeployment

    deployment = flow(name="bare-flow")(bare_flow).to_deployment(name="bench")
    serve(cast(RunnerDeployment, deployment), print_starting_message=False)


def main() -> None:
    with running_stack({"IRP_GATE_SUSPEND_AFTER_S": "2"}) as stack:
        env = stack.client_env()
        code = "from benchmarks.bench_alert_to_running import serve_bare; serve_bare()"
        with (stack.home / "bare.log").open("wb") as log:
            bare_runner = subprocess.Popen(
                [sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            os.environ.update(
                {k: env[k] for k in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_HOME")}
            )
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                until(lambda: _deployment_ready(client), 120, "the bare deployment")
                db = sa.create_engine(stack.info["irp_database_url"])
                alerts, created, commanding, bare = [], [], [], []
                for i in range(SAMPLES + 1):  # the first pair warms both paths
                    created_s, alert_s, command_s = _alert_to_running(stack, db, client, i)
                    bare_s = _bare_to_running(client)
                    print(
                        f"alert {alert_s:.2f} s (run created after {created_s:.2f} s, "
                        f"command stage after {command_s:.2f} s), bare {bare_s:.2f} s",
                        file=sys.stderr,
                    )
                    if i:
                        alerts.append(alert_s)
                        created.append(created_s)
                        commanding.append(command_s)
                        bare.append(bare_s)
                db.dispose()
        finally:
            bare_runner.terminate()
            bare_runner.wait(30)
    ours, theirs = spread(alerts, "alert_to_running"), spread(bare, "bare_deployment_to_running")
    figures: dict[str, float] = {**ours, **theirs, **spread(created, "alert_to_run_created")}
    figures |= spread(commanding, "alert_to_command_stage")
    for q in ("p50", "p95"):
        ratio = ours[f"alert_to_running_{q}_s"] / theirs[f"bare_deployment_to_running_{q}_s"]
        figures[f"alert_to_running_ratio_{q}"] = round(ratio, 3)
    print(json.dumps(figures))


def _deployment_ready(client: Any) -> bool:
    try:
        client.read_deployment_by_name(BARE)
    except Exception:  # noqa: BLE001 - not registered yet
        return False
    return True


def _running_at(client: Any, run_id: UUID) -> datetime | None:
    states = client.read_flow_run_states(run_id)
    running = [s.timestamp for s in states if s.type.value == "RUNNING"]
    return min(running) if running else None


def _alert_to_running(
    stack: LiveStack, db: sa.Engine, client: Any, i: int
) -> tuple[float, float, float]:
    """Seconds from the POST to the incident's flow run existing, to it Running, and to its
    command stage starting."""
    sent = datetime.now(UTC)
    incident_id = open_by_alert(stack, f"bench-svc-{i}", f"bench-{i}")

    def run_id() -> str | None:
        with db.connect() as conn:
            query = sa.text("SELECT flow_run_id FROM incident WHERE id = :id")
            return cast(str | None, conn.execute(query, {"id": incident_id}).scalar())

    run = UUID(until(run_id, 120, "the incident's flow run"))
    running = until(lambda: _running_at(client, run), 120, "the incident's run to start")
    created = client.read_flow_run(run).created

    def command_started() -> datetime | None:
        with db.connect() as conn:
            query = sa.text(
                "SELECT at FROM timeline_event WHERE incident_id = :id"
                " AND kind = 'stage_started' AND stage = 'command'"
            )
            at = conn.execute(query, {"id": incident_id}).scalar()
            return None if at is None else at.replace(tzinfo=at.tzinfo or UTC)

    commanding = until(command_started, 120, "the incident's command stage")
    return (
        (created - sent).total_seconds(),
        (running - sent).total_seconds(),
        (commanding - sent).total_seconds(),
    )


def _bare_to_running(client: Any) -> float:
    from prefect.deployments import run_deployment

    sent = datetime.now(UTC)
    run = cast("FlowRun", run_deployment(BARE, timeout=0))
    running = until(lambda: _running_at(client, run.id), 120, "the bare run to start")
    return (running - sent).total_seconds()


if __name__ == "__main__":
    main()
