"""Alert received -> flow run Running, on a local Prefect server with served deployments.

A Prefect server, a `serve()` process for the four deployments (runner polls every second)
and the webhook (dispatching through Prefect) run as subprocesses; each alert opens a new
incident. The latency is from just before the POST to the Running state's timestamp.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import httpx

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

from benchmarks.webhook_support import TOKEN, free_port, uvicorn_process

ALERTS = 8
BARE = "bare-flow/irp"


def bare_flow() -> None:
    """The baseline: a deployment whose flow does nothing, served by the same runner."""


def serve_deployments() -> None:
    """Child process: register and serve one deployment per incident type, and the baseline."""
    from prefect import flow, serve
    from prefect.deployments.runner import RunnerDeployment

    from deployments.names import DEPLOYMENT
    from flows.registry import FLOWS

    flows = [*FLOWS.values(), flow(name="bare-flow")(bare_flow)]
    deployments = [cast(RunnerDeployment, f.to_deployment(name=DEPLOYMENT)) for f in flows]
    serve(*deployments, print_starting_message=False)


def _wait(what: str, check: object, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if check():  # type: ignore[operator]
                return
        except (httpx.TransportError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(
        args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="irp-bench-a2r-") as tmp:
        home = Path(tmp) / "irp"
        home.mkdir()
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {
            **os.environ,
            "IRP_HOME": str(home),
            "PREFECT_HOME": str(Path(tmp) / "prefect"),
            "PREFECT_API_URL": api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        env.pop("IRP_DATABASE_URL", None)
        server = _spawn(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env,
            Path(tmp) / "server.log",
        )
        runner = None
        try:
            _wait(
                "prefect server", lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200
            )
            os.environ.update({k: env[k] for k in ("PREFECT_API_URL", "PREFECT_HOME")})
            runner = _spawn(
                [
                    sys.executable,
                    "-c",
                    "from benchmarks.bench_alert_to_running import serve_deployments as s; s()",
                ],
                env,
                Path(tmp) / "runner.log",
            )
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                _wait("deployments", lambda: len(client.read_deployments()) >= 5)
                latencies = _measure(home, env, client)
                bare = [_bare_to_running(client) for _ in range(ALERTS)]
        finally:
            if runner is not None:
                _stop(runner)
            _stop(server)
    cuts = statistics.quantiles(latencies, n=20)
    print(f"{len(latencies)} alerts, each a new incident", file=sys.stderr)
    print(
        json.dumps(
            {
                "alert_to_running_p50_s": round(statistics.median(latencies), 2),
                "alert_to_running_p95_s": round(cuts[18], 2),
                "bare_deployment_to_running_p50_s": round(statistics.median(bare), 2),
                "bare_deployment_to_running_p95_s": round(statistics.quantiles(bare, n=20)[18], 2),
            }
        )
    )


def _bare_to_running(client: Any) -> float:
    """What Prefect alone costs on this machine: run_deployment to Running for a no-op flow."""
    from prefect.deployments import run_deployment

    sent = datetime.now(UTC)
    run = cast("FlowRun", run_deployment(BARE, timeout=0))
    running: list[datetime] = []

    def started() -> bool:
        states = client.read_flow_run_states(run.id)
        running.extend(s.timestamp for s in states if s.type.value == "RUNNING")
        return bool(running)

    _wait("bare run to start", started)
    return (min(running) - sent).total_seconds()


def _measure(home: Path, env: dict[str, str], client: object) -> list[float]:
    """One alert at a time (each run starts alone: flow-run processes compete for CPU)."""
    import sqlite3

    latencies: list[float] = []
    starts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    prefect_env = {"PREFECT_API_URL": env["PREFECT_API_URL"]}
    with uvicorn_process("irp_app_prefect", home, prefect_env) as url:
        for i in range(ALERTS):
            alert = {
                "status": "firing",
                "labels": {"alertname": "ServiceDown", "service": f"svc-{i}"},
                "annotations": {"summary": f"svc-{i} down"},
                "startsAt": starts,
                "fingerprint": f"bench-{i}",
            }
            sent = datetime.now(UTC)
            answer = httpx.post(
                f"{url}/alerts/alertmanager",
                json={"version": "4", "status": "firing", "alerts": [alert]},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
            [incident_id] = answer.json()["incidents_opened"]
            run: list[str] = []
            running: list[datetime] = []

            def dispatched(incident_id: str = incident_id, run: list[str] = run) -> bool:
                with sqlite3.connect(home / "irp.db") as conn:
                    row = conn.execute(
                        "select flow_run_id from incident where id = ?", (incident_id,)
                    ).fetchone()
                if row and row[0]:
                    run.append(row[0])
                return bool(run)

            def started(
                run: list[str] = run,
                running: list[datetime] = running,
                sent: datetime = sent,
                incident_id: str = incident_id,
            ) -> bool:
                states = client.read_flow_run_states(UUID(run[0]))  # type: ignore[attr-defined]
                running.extend(s.timestamp for s in states if s.type.value == "RUNNING")
                if running:
                    steps = ", ".join(
                        f"{s.type.value} +{(s.timestamp - sent).total_seconds():.2f}s"
                        for s in states
                    )
                    print(f"{incident_id}: {steps}", file=sys.stderr)
                return bool(running)

            _wait("dispatch", dispatched)
            _wait("run to start", started)
            latencies.append((min(running) - sent).total_seconds())
    return latencies


if __name__ == "__main__":
    main()
