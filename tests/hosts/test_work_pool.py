"""The work-pool way to run irp: `prefect deploy --all` from prefect.yaml creates what serve
serves (incident deployments, drill schedules) plus the deadline watch, and a process worker
runs an incident flow to its gate and on after the answer, and runs the watch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from deployments.prefect_yaml import PREFECT_YAML, main, pool_deployments, render
from models.enums import IncidentType
from tests.factories import make_intake
from tests.hosts.central import (
    REPO,
    central_stack,
    deployment_names,
    flow_run,
    host_env,
    kill_group,
    start_process,
    start_run,
    wait_for,
)

pytestmark = [pytest.mark.no_database]
PREFECT = [sys.executable, "-m", "prefect"]


def test_prefect_yaml_is_written_from_what_serve_builds() -> None:
    assert main(["--check"]) == 0, "prefect.yaml is out of date: run `make prefect-yaml`"
    entries = yaml.safe_load(render())["deployments"]
    flows = {d.name: d.flow_name for d in pool_deployments()}
    names = {f"{flows[e['name']]}/{e['name']}" for e in entries if e["name"] != "irp"}
    assert {
        "data-breach/drill-data-breach-quarterly",
        "system-failure/drill-system-failure-quarterly",
    } <= names
    entrypoints = {e["entrypoint"] for e in entries}
    assert (
        f"flows.{IncidentType.system_failure.value}.{IncidentType.system_failure.value}"
        in entrypoints
    )
    assert "deployments.watch.deadline_watch" in entrypoints
    # Every run a worker starts beats every 30 s, as served runs do (the zombie automation).
    assert {str(e["work_pool"]["job_variables"]) for e in entries} == {
        "{'env': {'PREFECT_FLOWS_HEARTBEAT_FREQUENCY': '30'}}"
    }
    assert PREFECT_YAML.read_text() == render()


@pytest.mark.slow
def test_a_process_worker_runs_what_prefect_deploy_created(tmp_path: Path) -> None:
    with central_stack() as central:
        env = host_env(central, tmp_path / "worker-home", PREFECT_WORKER_QUERY_SECONDS="1")

        def prefect(*args: str) -> None:
            done = subprocess.run(
                [*PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=180
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

        prefect("work-pool", "create", "irp", "--type", "process")
        prefect("deploy", "--all")
        with central.api() as api:
            expected = {f"{d.flow_name}/{d.name}" for d in pool_deployments()}
            assert deployment_names(api) == expected

            worker = start_process(
                [*PREFECT, "worker", "start", "--pool", "irp", "--type", "process"],
                env,
                tmp_path / "worker-home",
                tmp_path / "worker.log",
            )
            try:
                report = make_intake(IncidentType.system_failure, summary="Orders API down")
                run_id = start_run(
                    api, "system-failure/irp", {"intake": report.model_dump(mode="json")}
                )
                wait_for(
                    "the worker's run to wait at the activation gate with its form",
                    lambda: _form_saved(api, run_id),
                )
                answer = api.post(
                    f"/flow_runs/{run_id}/resume",
                    json={"run_input": {"decision": "approve", "approver": "cio"}},
                )
                assert answer.json()["status"] == "ACCEPT", answer.text
                wait_for(
                    "the response stage to start after the answer",
                    lambda: central.rows(
                        "SELECT 1 FROM timeline_event WHERE stage = 'response'"
                        " AND kind = 'stage_started'"
                    ),
                )

                watch = api.get("/deployments/name/deadline-watch/irp").json()
                assert watch["global_concurrency_limit"]["limit"] == 1
                assert watch["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
                assert [s["schedule"]["interval"] for s in watch["schedules"]] == [300.0]
                watch_run = start_run(api, "deadline-watch/irp", {"minutes": 0.05})
                wait_for(
                    "one watch run (3 s) to complete on the worker",
                    lambda: flow_run(api, watch_run)["state_type"] == "COMPLETED",
                )
            finally:
                kill_group(worker)


def _form_saved(api: httpx.Client, run_id: str) -> bool:
    """Paused, with the form saved: the run saves it just after pausing, and Prefect refuses
    a resume before ("Run input schema not found"), as the UI shows no form before."""
    run = flow_run(api, run_id)
    keyset = ((run.get("state") or {}).get("state_details") or {}).get("run_input_keyset")
    if run["state_type"] != "PAUSED" or not keyset:
        return False
    return api.get(f"/flow_runs/{run_id}/input/{keyset['schema']}").status_code == 200
