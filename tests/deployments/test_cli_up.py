"""`irp up` for real: a clear error on a busy port; a stack that heals (a child killed with
SIGKILL comes back, alerts are accepted while the Prefect server restarts); signals to its
process group, also while it starts, and a SIGKILL of `irp up` itself leave nothing behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from irp.cli.main import main
from tests.irp.processes import (
    api_headers,
    carrying,
    free_port,
    gone,
    in_group,
    port_free,
    postgres_on,
    running,
    stack_home,
    until,
)

# The stack brings its own PostgreSQL for irp's tables: no per-test database.
pytestmark = pytest.mark.no_database

REPO_ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 300  # a loaded 2-core machine: a cold stack has taken 40 s


def test_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["up", "--port", str(port), "--no-webhook"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "Traceback" not in err


@dataclass
class Up:
    """`irp up` under a shell in its own process group, as `make up` runs it."""

    group: subprocess.Popen[bytes]
    home: Path
    out: Path
    prefect_port: int
    webhook_port: int

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.home / "run" / "processes.json").read_text())
        return data

    def child(self, name: str) -> int:
        return int(self.record()["children"][name])

    def says(self, text: str, deadline_s: float = START_DEADLINE_S) -> None:
        until(lambda: text in self.output(), deadline_s, f"irp up prints {text!r}")

    def back_after(self, pid: int, label: str) -> bool:
        """Since it reported child `pid` down, irp up has reported `label` back."""
        return f"{label} is back (pid" in self.output().split(f"(pid {pid})", 1)[-1]

    def signal_group(self, sig: signal.Signals) -> None:
        os.killpg(self.group.pid, sig)

    def webhook(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.webhook_port}", timeout=10, trust_env=False
        )

    def assert_nothing_left(self, record: dict[str, Any]) -> None:
        """irp up has exited (the shell above it died of the group's signal, as make does),
        and no process, PostgreSQL or port of its stack remains."""
        assert gone(record["pid"], 120)
        until(lambda: not carrying(record["stack_id"]), 30, "no process carries the stack id")
        until(lambda: not postgres_on(self.home / "postgres"), 30, "PostgreSQL gone")
        assert port_free(self.prefect_port) and port_free(self.webhook_port)


def start_up(home: Path) -> Up:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IRP_", "PREFECT_"))}
    prefect_port, webhook_port = free_port(), free_port()
    env |= {
        "IRP_HOME": str(home),
        "IRP_PREFECT_PORT": str(prefect_port),
        "IRP_WEBHOOK_PORT": str(webhook_port),
        "IRP_GATE_SUSPEND_AFTER_S": "600",  # a run at its gate keeps its process meanwhile
    }
    home.mkdir(parents=True)
    out = home.parent / "up.out"
    command = f'"{sys.executable}" -m irp.cli.main up; echo "irp up exited with $?"'
    with out.open("wb") as sink:
        group = subprocess.Popen(
            ["sh", "-c", command],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
        )
    return Up(group, home, out, prefect_port, webhook_port)


def recorded(up: Up) -> dict[str, Any]:
    until(lambda: (up.home / "run" / "processes.json").exists(), 60, "the stack recorded")
    return up.record()


@pytest.fixture(scope="module")
def up() -> Iterator[Up]:
    """One whole stack shared by the tests below; the last one stops it with signals."""
    with stack_home() as home:
        running = start_up(home)
        try:
            running.says("irp is up")
            yield running
        finally:
            if running.group.poll() is None:
                running.signal_group(signal.SIGTERM)
            with suppress(FileNotFoundError, KeyError):
                gone(running.record()["pid"], 120)


@pytest.fixture
def home() -> Iterator[Path]:
    with stack_home() as path:
        yield path


@pytest.mark.slow
def test_up_records_its_processes_and_answers(up: Up) -> None:
    assert set(up.record()["children"]) == {"postgres", "prefect-server", "serve", "webhook"}
    with up.webhook() as client:
        assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.slow
def test_alerts_are_accepted_while_the_prefect_server_restarts_then_dispatched(up: Up) -> None:
    server = up.child("prefect-server")
    os.kill(server, signal.SIGKILL)
    assert gone(server)
    alert = {
        "title": "Checkout down",
        "incident_type": "system_failure",
        "service": "checkout",
        "dedup_key": "heal-while-server-down",
    }
    with up.webhook() as client:
        response = client.post("/alerts/generic", json=alert)
        assert not up.back_after(server, "prefect-server")  # answered while it was down
        assert response.status_code == 202
        (incident_id,) = response.json()["incidents_opened"]
        until(lambda: up.back_after(server, "prefect-server"), START_DEADLINE_S, "server back")
        until(
            lambda: client.get("/healthz").json()["pending_dispatch"] == 0,
            120,
            "the pending incident dispatched",
        )
    runs = httpx.post(
        f"http://127.0.0.1:{up.prefect_port}/api/flow_runs/filter",
        json={},
        headers=api_headers(json.loads((up.home / "run" / "stack.json").read_text())),
        trust_env=False,
    ).json()
    assert incident_id in [run["parameters"].get("incident_id") for run in runs]


@pytest.mark.slow
def test_serve_killed_with_sigkill_comes_back_and_the_rest_keeps_running(up: Up) -> None:
    """An incident's run executes in a process serve started: it goes with serve (its output
    went through serve), nothing else does."""
    serve, others = up.child("serve"), {n: up.child(n) for n in ("postgres", "webhook")}
    alert = {"title": "Search down", "incident_type": "system_failure", "service": "search"}
    with up.webhook() as client:
        assert client.post("/alerts/generic", json=alert).status_code == 202
    runs = until(lambda: [p for p in in_group(serve) if p != serve], 120, "a flow run in serve")
    os.kill(serve, signal.SIGKILL)
    up.says(f"serve (runs the deployments) (pid {serve}) was killed by SIGKILL")
    with up.webhook() as client:
        until(
            lambda: (
                client.get("/healthz").status_code == 200
                and up.back_after(serve, "serve (runs the deployments)")
            ),
            START_DEADLINE_S,
            "serve back, the webhook answering all along",
        )
    assert up.child("serve") != serve
    assert {n: up.child(n) for n in others} == others
    assert not any(running(pid) for pid in runs)
    log = (up.home / "logs" / "serve.log").read_text()
    assert f"(pid {serve}) was killed by SIGKILL" in log and "restarting it in 1 s" in log
    assert "--- irp: restarting (restart 1) serve at" in log


@pytest.mark.slow
def test_a_dead_postgres_is_named_and_restarted(up: Up) -> None:
    postgres = up.child("postgres")
    os.kill(postgres, signal.SIGKILL)
    up.says(f"(pid {postgres}) was killed by SIGKILL; the Prefect server and irp's database")
    label = f"PostgreSQL (data in {up.home / 'postgres'})"
    assert f"irp: {label} (pid {postgres})" in up.output()
    until(lambda: up.back_after(postgres, label), 120, "PostgreSQL back")
    assert up.child("postgres") != postgres
    alert = {"title": "Cart down", "incident_type": "system_failure", "service": "cart"}
    with up.webhook() as client:
        until(
            lambda: client.post("/alerts/generic", json=alert).status_code == 202,
            120,
            "alerts stored again",
        )


@pytest.mark.slow
def test_sigterm_to_the_process_group_twice_leaves_nothing_behind(up: Up) -> None:
    record = recorded(up)
    up.signal_group(signal.SIGTERM)
    up.says("irp: stopping (SIGTERM received)", 60)
    up.signal_group(signal.SIGTERM)  # a second signal while stopping
    up.assert_nothing_left(record)
    assert "irp: stopped; every process it started has exited" in up.output()
    assert not (up.home / "run" / "processes.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("milestone", "sig"),
    [("prefect-server.log", signal.SIGTERM), ("serve.log", signal.SIGINT)],
    ids=["while-the-server-starts", "while-serve-starts"],
)
def test_a_signal_while_starting_leaves_nothing_behind(
    home: Path, milestone: str, sig: signal.Signals
) -> None:
    up = start_up(home)
    record = recorded(up)
    until(lambda: (up.home / "logs" / milestone).exists(), START_DEADLINE_S, milestone)
    up.signal_group(sig)
    up.assert_nothing_left(record)
    assert f"irp: {sig.name} received while starting" in up.output()
    assert "irp is up" not in up.output()


@pytest.mark.slow
def test_sigkill_of_irp_up_takes_its_children_along(home: Path) -> None:
    up = start_up(home)
    until(lambda: (up.home / "logs" / "serve.log").exists(), START_DEADLINE_S, "serve started")
    record = recorded(up)
    os.kill(record["pid"], signal.SIGKILL)
    for pid in record["children"].values():
        assert gone(pid)  # each got its parent-death signal
    until(lambda: not carrying(record["stack_id"]), 30, "no process carries the stack id")
    until(lambda: not postgres_on(up.home / "postgres"), 30, "PostgreSQL gone")
    assert port_free(up.prefect_port)
    assert up.group.wait(timeout=30) == 0  # the shell reports irp up's death
    assert "irp up exited with 137" in up.output()
    log = (up.home / "logs" / "postgres.log").read_text()
    assert "database system is shut down" in log  # its fast shutdown, not a crash
