"""The path a user runs, end to end: `irp up` as a process (embedded PostgreSQL, Prefect server,
served deployments, webhook) and the real Alertmanager. An alert opens an incident whose flow
run starts on the served deployment; the activation gate is answered through the Prefect API the
UI uses; the response stage runs; a resend and a resolved notification change nothing else; a
SIGTERM to the process group leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import pytest
import sqlalchemy as sa

from tests.irp.processes import (
    api_headers,
    free_port,
    irp_up,
    port_free,
    postgres_on,
    stack_home,
    until,
)
from tests.webhook.alertmanager import alertmanager, api_alert, push

pytestmark = [pytest.mark.slow, pytest.mark.no_database]

TOKEN = "e2e-webhook-token"
STACK_DEADLINE_S = 180
T = TypeVar("T")


def waited(what: str, check: Callable[[], T]) -> T:
    return until(check, STACK_DEADLINE_S, what, every_s=0.3)


@dataclass
class LiveStack:
    process: subprocess.Popen[bytes]
    home: Path
    info: dict[str, Any]
    db: sa.Engine
    api: httpx.Client

    def rows(self, query: str, **params: Any) -> list[Any]:
        with self.db.connect() as conn:
            return list(conn.execute(sa.text(query), params))


@pytest.fixture(scope="module")
def live() -> Iterator[LiveStack]:
    """`irp up` started the way `make up` starts it, in its own process group."""
    with stack_home() as home:
        home.mkdir(parents=True)
        yield from _run_up(home)


def _run_up(home: Path) -> Iterator[LiveStack]:
    env = {
        "IRP_PREFECT_PORT": str(free_port()),
        "IRP_WEBHOOK_PORT": str(free_port()),
        "IRP_WEBHOOK_TOKEN": TOKEN,
    }
    with irp_up(home, env, STACK_DEADLINE_S) as (process, info):
        db = sa.create_engine(info["irp_database_url"])
        with httpx.Client(
            base_url=info["api_url"], headers=api_headers(info), trust_env=False, timeout=30
        ) as api:
            yield LiveStack(process, home, info, db, api)
        db.dispose()


def _processes_of(home: Path) -> list[str]:
    """Processes started for this home: their command line or environment names it (PostgreSQL
    runs as another user and outside the process group, so the group alone would miss it)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            environ = process.environ() if str(home) not in cmdline else {}
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if str(home) in cmdline or environ.get("IRP_HOME") == str(home):
            found.append(f"{process.info['pid']} {cmdline}")
    return found


def _flow_run(live: LiveStack, flow_run_id: str) -> dict[str, Any]:
    response = live.api.get(f"/flow_runs/{flow_run_id}")
    response.raise_for_status()
    run: dict[str, Any] = response.json()
    return run


def test_alert_to_incident_to_gate_to_response(live: LiveStack, tmp_path: Path) -> None:
    started = datetime.now(UTC)
    alert = api_alert("CheckoutServiceDown", "checkout", started, severity="critical")
    with alertmanager(tmp_path / "am", live.info["webhook_url"], TOKEN) as am_url:
        push(am_url, [alert])
        incident = waited(
            "an incident with its flow run",
            lambda: live.rows(
                "SELECT id, type, flow_run_id FROM incident WHERE flow_run_id IS NOT NULL"
            ),
        )
        assert len(incident) == 1
        incident_id, incident_type, flow_run_id = incident[0]
        assert incident_type == "system_failure"

        run = waited(
            "the run to wait at the activation gate",
            lambda: (r := _flow_run(live, flow_run_id))["state_type"] == "PAUSED" and r,
        )
        deployment = live.api.get(f"/deployments/{run['deployment_id']}").json()
        assert deployment["entrypoint"] == "flows.system_failure.system_failure"

        answer = live.api.post(
            f"/flow_runs/{flow_run_id}/resume",
            json={"run_input": {"decision": "approve", "approver": "cio", "comment": "activate"}},
        )
        assert answer.json()["status"] == "ACCEPT", answer.text
        waited(
            "the response stage to start",
            lambda: live.rows(
                "SELECT 1 FROM timeline_event WHERE incident_id = :id AND stage = 'response'"
                " AND kind = 'stage_started'",
                id=incident_id,
            ),
        )
        decided = live.rows(
            "SELECT approver, outcome FROM gate_decision WHERE incident_id = :id",
            id=incident_id,
        )
        assert ("cio", "proceed") in [tuple(row) for row in decided]

        # Alertmanager's retry sends the same alert again: nothing new is stored or opened.
        [(payload,)] = live.rows(
            "SELECT payload FROM alert WHERE incident_id = :id", id=incident_id
        )
        resend = httpx.post(
            f"{live.info['webhook_url']}/alerts/alertmanager",
            json={
                "version": "4",
                "status": "firing",
                "receiver": "irp",
                "groupKey": '{}:{alertname="CheckoutServiceDown"}',
                "alerts": [payload],
            },
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert resend.status_code == 202, resend.text
        assert resend.json()["stored"] == 0
        assert resend.json()["incidents_opened"] == []

        # The alert resolves: its incident is annotated, nothing else opens or starts.
        push(am_url, [{**alert, "endsAt": datetime.now(UTC).isoformat().replace("+00:00", "Z")}])
        waited(
            "the resolution on the timeline",
            lambda: live.rows(
                "SELECT 1 FROM timeline_event WHERE incident_id = :id AND kind = 'alert_resolved'",
                id=incident_id,
            ),
        )
    assert live.rows("SELECT count(*) FROM incident")[0][0] == 1
    assert live.rows("SELECT count(*) FROM alert")[0][0] == 1
    runs = live.api.post(
        "/flow_runs/filter",
        json={"flow_runs": {"deployment_id": {"any_": [run["deployment_id"]]}}},
    ).json()
    assert [r["id"] for r in runs] == [flow_run_id]


def test_sigterm_to_the_group_leaves_no_process_and_no_port(live: LiveStack) -> None:
    ports = [
        int(live.info[key].rsplit(":", 1)[1].split("/")[0]) for key in ("api_url", "webhook_url")
    ]
    live.db.dispose()
    os.killpg(live.process.pid, signal.SIGTERM)
    assert live.process.wait(120) == 0
    assert _processes_of(live.home) == []
    assert postgres_on(live.home / "postgres") == []
    assert all(port_free(port) for port in ports)
