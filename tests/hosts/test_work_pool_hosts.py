"""Two hosts on one work pool (issue 14): each host is a separate process tree running
`prefect worker start --pool irp` with its own IRP_HOME, in its own PID, mount, UTS and (where
root allows `ip netns`) network namespaces, as in test_multihost.py.

Host a's worker starts first and takes the deadline watch (`deadline-watch/irp`, the
work-pool path's recovery, deployments/watch.py), which also creates the zombie automation.
Host b's worker also polls a work queue of its own, and the incidents are started on that
queue, so the host the test kills is sure to hold them (which worker takes a run from a shared
queue is Prefect's choice); the runs recovery starts go to the deployment's default queue,
which both workers poll. Host b is SIGKILLed with every run paused at its first gate in its
process; Prefect's heartbeats stop, the automation marks the runs Crashed, and the watch on
host a starts each incident again there; every incident is answered to its end.

Report files: written by the run that closes the incident, under that host's IRP_HOME, so after
a failover they are on the surviving host (never on the lost one), and the same report is a
Prefect artifact any host and the UI read (docs/operations.md, "Files on several hosts").
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deployments.prefect_yaml import WORK_POOL
from deployments.recovery import AUTOMATION
from models.enums import IncidentType
from tests.factories import make_intake
from tests.hosts.central import (
    REPO,
    central_stack,
    flow_run,
    host_env,
    start_run,
    wait_for,
)
from tests.hosts.hosts import Host, namespaces_allowed, start_host
from tests.hosts.incidents import answer_gates, incidents, said_twice, waiting_runs
from tests.hosts.netns import host_network, server_address
from tests.notify.helpers import routed_plan
from tests.notify.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.no_database]
PREFECT = [sys.executable, "-m", "prefect"]
HOST_B_QUEUE = "host-b"
INCIDENTS = 3
HEARTBEAT_TIMEOUT_S = 45  # Prefect's heartbeats come every 30 s at the least: 1.5 of them


def worker(name: str, *queues: str) -> list[str]:
    """A process worker of the irp pool polling these work queues."""
    polled = [arg for queue in queues for arg in ("--work-queue", queue)]
    return [*PREFECT, "worker", "start", "--pool", WORK_POOL, "--type", "process"] + [
        "--name",
        f"worker-{name}",
        *polled,
    ]


def online(api: httpx.Client, name: str) -> bool:
    workers = api.post(f"/work_pools/{WORK_POOL}/workers/filter", json={}).json()
    return f"worker-{name}" in {w["name"] for w in workers}


def watch_running(api: httpx.Client) -> bool:
    """A deadline-watch run is running and has made the zombie automation."""
    watch = api.get("/deployments/name/deadline-watch/irp").json()
    running = api.post(
        "/flow_runs/filter",
        json={
            "deployments": {"id": {"any_": [watch["id"]]}},
            "flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}},
        },
    ).json()
    automations = {a["name"] for a in api.post("/automations/filter", json={}).json()}
    return bool(running) and AUTOMATION in automations


def test_two_workers_share_the_pool_and_a_lost_hosts_runs_finish_on_the_other(
    tmp_path: Path,
) -> None:
    isolated = namespaces_allowed()
    began = time.monotonic()
    phases: dict[str, float] = {}
    hosts: dict[str, Host] = {}
    with (
        host_network(["a", "b"]) as network,
        central_stack(host=server_address(network)) as central,
        Receiver(host=server_address(network)) as receiver,
        central.api() as api,
    ):
        plan_file, _ = routed_plan(tmp_path, receiver)
        deployer = host_env(central, tmp_path / "deployer")
        for args in (
            ("work-pool", "create", WORK_POOL, "--type", "process"),
            ("work-queue", "create", HOST_B_QUEUE, "--pool", WORK_POOL),
            ("deploy", "--all"),
        ):
            done = subprocess.run(
                [*PREFECT, *args], env=deployer, cwd=REPO, capture_output=True, text=True,
                timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        phases["deployed"] = time.monotonic() - began
        settings = {
            "IRP_PLAN_FILE": str(plan_file),
            "IRP_GATE_SUSPEND_AFTER_S": "600",  # waiting runs keep their process: a kill strands them
            "IRP_GATE_POLL_INTERVAL_S": "1",
            "IRP_RUN_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }

        def start(name: str, *queues: str) -> Host:
            hosts[name] = start_host(
                central, name, tmp_path, settings, isolated, serve=False, webhook=False,
                programs=[worker(name, *queues)], network=network,
            )  # fmt: skip
            wait_for(f"host {name}'s worker online", lambda: online(api, name), deadline_s=180)
            return hosts[name]

        try:
            survivor = start("a", "default")
            start_run(api, "deadline-watch/irp", {"minutes": 20})
            wait_for("the watch running on host a", lambda: watch_running(api), deadline_s=180)
            lost = start("b", "default", HOST_B_QUEUE)
            for n in range(INCIDENTS):
                intake = make_intake(IncidentType.system_failure, summary=f"Orders API down {n}")
                start_run(
                    api,
                    "system-failure/irp",
                    {"intake": intake.model_dump(mode="json")},
                    work_queue=HOST_B_QUEUE,
                )
            runs = wait_for(
                "every incident's run waiting at its first gate",
                lambda: waiting_runs(central, api, INCIDENTS),
                deadline_s=240,
            )
            assert all(lost.runs(r["labels"]) for r in runs.values())
            phases["runs at gates on b"] = time.monotonic() - began
            killed_at = time.monotonic()
            lost.kill()
            wait_for(
                "host b's incidents taken over on host a",
                lambda: (
                    len(central.rows("SELECT 1 FROM timeline_event WHERE kind = 'run_recovered'"))
                    == INCIDENTS
                ),
                deadline_s=240,
            )
            phases["kill to taken over"] = time.monotonic() - killed_at
            wait_for(
                "every incident answered to its end on host a",
                lambda: answer_gates(central, api),
                deadline_s=300,
            )
            phases["kill to all ended"] = time.monotonic() - killed_at
            wait_for(  # a closed incident's run still publishes its report as artifacts
                "every incident's last run completed",
                lambda: all(
                    flow_run(api, i["run"])["state_type"] == "COMPLETED"
                    for i in incidents(central).values()
                ),
            )
            print(
                f"isolated hosts: {isolated}; own networks: {network is not None}; "
                + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
            )
        finally:
            for host in hosts.values():
                host.kill()

        ended = incidents(central)
        assert {i["status"] for i in ended.values()} == {"closed"}
        assert all(ended[i]["run"] != runs[i]["id"] for i in ended)  # each one recovered
        final_runs = [flow_run(api, i["run"]) for i in ended.values()]
        assert all(survivor.runs(r["labels"]) for r in final_runs)
        incident_runs = [
            r for r in api.post("/flow_runs/filter", json={}).json() if r["name"].startswith("INC-")
        ]
        assert len(incident_runs) == 2 * INCIDENTS  # the first run and its recovery, no more
        assert said_twice(central) == []

        for incident_id in ended:
            report = survivor.home / "reports" / incident_id / "report.md"
            assert incident_id in report.read_text(encoding="utf-8")
            assert not (lost.home / "reports" / incident_id).exists()
            artifact = api.get(f"/artifacts/{incident_id.lower()}-report/latest")
            assert artifact.status_code == 200, artifact.text
            assert incident_id in artifact.json()["data"]
