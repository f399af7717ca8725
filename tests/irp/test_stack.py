"""The local stack for real: embedded PostgreSQL, `prefect server start`, a flow from a child,
and the supervision of its children (restart with backoff, signals, leftovers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from irp.stack import Stack, StackConfig, StackError, start_embedded_postgres
from irp.stack.leftovers import RunRecord, stop_leftovers
from irp.stack.processes import ProcessSpec
from irp.stack.supervisor import Supervisor
from tests.irp.processes import free_port, gone, postgres_on, running, stack_home, until

# The stack brings its own PostgreSQL for irp's tables: no per-test database.
pytestmark = [pytest.mark.slow, pytest.mark.no_database]

REPO_ROOT = Path(__file__).resolve().parents[2]

FLOW_SCRIPT = """
from prefect import flow

@flow(name="irp-stack-smoke")
def smoke() -> int:
    return 42

print(smoke(return_state=True).state_details.flow_run_id)
"""

GRANDPARENT_SCRIPT = """
import http.server, subprocess, sys
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(sys.argv[1], "w").write(str(grandchild.pid))
handler = http.server.SimpleHTTPRequestHandler
http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), handler).serve_forever()
"""

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]

# Touches the file named by its argument once running. The stubborn one ignores SIGTERM (so
# the parent-death signal too), like a child hung in its shutdown.
OBEDIENT = [
    sys.executable,
    "-c",
    "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); time.sleep(600)",
]
STUBBORN = [
    sys.executable,
    "-c",
    "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "pathlib.Path(sys.argv[1]).touch(); time.sleep(600)",
]

# A bare stack (no PostgreSQL, no server) supervising a sleeper and a second child (argv
# given) until a signal; prints their pids.
SUPERVISING_SCRIPT = """
import sys
from pathlib import Path
from irp.stack import Stack, StackConfig

home, second = Path(sys.argv[1]), sys.argv[2:]
stack = Stack(StackConfig(home=home))
stack.begin()
marker = home / "second.ready"
sleeper = stack.add_process("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
child = stack.add_process("second", [*second, str(marker)], ready=lambda c: marker.exists())
print(sleeper.pid, child.pid, flush=True)
stack.run_forever(poll_s=0.05)
"""


def api_get(stack: Stack, path: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"{stack.api_url}{path}", headers=stack.api_headers)
    with opener.open(request, timeout=10) as response:
        return json.load(response)


@dataclass
class FirstRun:
    home: Path
    flow_run: dict[str, Any]
    server_pid: int
    postgres_pid: int
    postgres_dir: Path


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    with stack_home() as path:
        yield path


@pytest.fixture(scope="module")
def first_run(home: Path) -> FirstRun:
    """A cold stack on a new home that ran one flow from a child process, then stopped."""
    with Stack(StackConfig(home=home, prefect_port=free_port())) as stack:
        assert api_get(stack, "/health") is True
        done = subprocess.run(
            [sys.executable, "-c", FLOW_SCRIPT],
            env=stack.env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        flow_run_id = done.stdout.strip().splitlines()[-1]
        flow_run = api_get(stack, f"/flow_runs/{flow_run_id}")
        assert stack.postgres is not None
        engine = sa.create_engine(stack.postgres.irp_url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE marker (note text)"))
            conn.execute(sa.text("INSERT INTO marker VALUES ('kept')"))
        engine.dispose()
        server, postgres = stack.process("prefect-server"), stack.process("postgres")
        assert server is not None and postgres is not None
        postgres_dir = stack.postgres.data_dir
    return FirstRun(home, flow_run, server.pid, postgres.pid, postgres_dir)


def test_flow_run_from_a_child_process_completes_on_the_stack(first_run: FirstRun) -> None:
    assert first_run.flow_run["name"]
    assert first_run.flow_run["state_type"] == "COMPLETED"
    assert (first_run.home / "logs" / "prefect-server.log").is_file()
    assert (first_run.home / "logs" / "postgres.log").is_file()
    assert (first_run.home / "prefect").is_dir()


def test_stop_ends_the_server_and_postgres_and_forgets_the_stack(first_run: FirstRun) -> None:
    assert gone(first_run.server_pid)
    assert gone(first_run.postgres_pid)
    assert postgres_on(first_run.postgres_dir) == []
    assert not (first_run.postgres_dir / "postmaster.pid").exists()
    assert not (first_run.home / "run" / "processes.json").exists()
    assert "database system is shut down" in (first_run.home / "logs" / "postgres.log").read_text()


def test_restart_on_the_same_home_keeps_flow_runs_and_irp_tables(first_run: FirstRun) -> None:
    with Stack(StackConfig(home=first_run.home, prefect_port=free_port())) as stack:
        flow_run = api_get(stack, f"/flow_runs/{first_run.flow_run['id']}")
        assert flow_run["state_type"] == "COMPLETED"
        assert stack.postgres is not None
        engine = sa.create_engine(stack.postgres.irp_url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT note FROM marker")).scalar_one() == "kept"
        engine.dispose()
        assert stack.env["IRP_DATABASE_URL"] == stack.postgres.irp_url
        assert stack.env["PREFECT_API_URL"] == stack.api_url


def test_external_database_url_is_used_instead_of_embedded(
    first_run: FirstRun, tmp_path: Path
) -> None:
    postgres = start_embedded_postgres(first_run.postgres_dir)
    try:
        config = StackConfig(
            home=tmp_path / "other",
            prefect_port=free_port(),
            database_url=postgres.sqlalchemy_url("asyncpg"),
            ui=False,
        )
        with Stack(config) as stack:
            assert stack.postgres is None
            assert stack.process("postgres") is None
            flow_run = api_get(stack, f"/flow_runs/{first_run.flow_run['id']}")
            assert flow_run["state_type"] == "COMPLETED"
        assert not (tmp_path / "other" / "postgres").exists()
    finally:
        postgres.stop()
    assert postgres_on(first_run.postgres_dir) == []


def test_postgres_left_running_on_the_data_dir_is_stopped_cleanly_first(
    first_run: FirstRun, tmp_path: Path
) -> None:
    """A server a killed stack (or an older irp, with pg_ctl) left on the data directory."""
    stray = start_embedded_postgres(first_run.postgres_dir, tmp_path / "stray.log")
    stray_pid = stray.pid
    assert stray_pid is not None
    with Stack(StackConfig(home=first_run.home, prefect_port=free_port())) as stack:
        assert gone(stray_pid)
        postgres = stack.process("postgres")
        assert postgres is not None and postgres.pid != stray_pid
        assert api_get(stack, "/health") is True
    stray.stop()
    assert "database system is shut down" in (tmp_path / "stray.log").read_text()


def test_port_in_use_is_a_clear_error_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = Stack(StackConfig(home=tmp_path / "home", prefect_port=port))
        with pytest.raises(StackError, match=f"port {port} on 127.0.0.1 is already in use"):
            stack.start()
    assert not (tmp_path / "home" / "postgres").exists()
    assert not (tmp_path / "home" / "run" / "processes.json").exists()


def test_server_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    config = StackConfig(
        home=tmp_path / "home",
        prefect_port=free_port(),
        database_url=f"postgresql+asyncpg://postgres@/postgres?host={tmp_path / 'nowhere'}",
    )
    with pytest.raises(StackError, match="prefect-server exited with code") as raised:
        Stack(config).start()
    assert "prefect-server.log" in str(raised.value)


@pytest.fixture
def bare_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(StackConfig(home=tmp_path / "home"), echo=lambda _: None)
    stack.begin()
    yield stack
    stack.stop()


def test_stop_kills_the_whole_process_group_of_a_child(bare_stack: Stack, tmp_path: Path) -> None:
    pid_file, port = tmp_path / "grandchild.pid", free_port()
    bare_stack.add_process(
        "parent",
        [sys.executable, "-c", GRANDPARENT_SCRIPT, str(pid_file), str(port)],
        {"PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/",
    )
    grandchild = int(pid_file.read_text())
    bare_stack.stop()
    assert bare_stack.processes == []
    assert gone(grandchild)


def test_a_child_that_exits_is_restarted_with_backoff_the_others_untouched(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    stack = Stack(StackConfig(home=tmp_path / "home"), echo=said.append)
    stack.begin()
    try:
        sleeper = stack.add_process("sleeper", SLEEPER, cwd=tmp_path)
        stack.add_process("quitter", [sys.executable, "-c", "raise SystemExit(3)"], cwd=tmp_path)
        entry = stack.supervisor.entries["quitter"]

        def restarted_twice() -> bool:
            stack.supervisor.step()
            return entry.restarts >= 2 and entry.child is None

        until(restarted_twice, 60, "quitter restarted twice and down again", every_s=0.05)
        assert stack.process("sleeper") is sleeper and sleeper.alive()
        log = (tmp_path / "home" / "logs" / "quitter.log").read_text()
        assert "quitter (pid" in log and "exited with code 3; restarting it in 1 s" in log
        assert "exited with code 3; restarting it in 2 s" in log  # the backoff doubled
        assert "restarting it in 4 s" in log
        assert "--- irp: restarting (restart 2) quitter at" in log
        assert any("quitter" in line and "restarting it in 1 s" in line for line in said)
        record = RunRecord.load(tmp_path / "home" / "run")
        assert record is not None and record.children["quitter"] != record.children["sleeper"]
    finally:
        stack.stop()
    assert gone(sleeper.pid)


def test_ctrl_c_stops_the_children(tmp_path: Path) -> None:
    up, sleeper, second = _supervising(tmp_path, OBEDIENT)
    up.send_signal(signal.SIGINT)
    assert up.wait(timeout=60) == 0
    assert gone(sleeper) and gone(second)
    assert "irp: stopping (SIGINT received): second, sleeper" in (tmp_path / "up.out").read_text()


def test_a_second_signal_while_stopping_kills_what_is_left(tmp_path: Path) -> None:
    up, sleeper, stubborn = _supervising(tmp_path, STUBBORN)
    up.send_signal(signal.SIGTERM)
    out = tmp_path / "up.out"
    until(lambda: "irp: stopping (SIGTERM received)" in out.read_text(), 30, "stopping")

    def signalled_again_and_stopped() -> bool:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)  # repeats within a second are ignored as echoes
        return up.poll() is not None

    until(signalled_again_and_stopped, 9, "irp stopped before the 10 s stop timeout")
    assert "irp: second signal: killing what is left" in out.read_text()
    assert gone(sleeper) and gone(stubborn)


def test_a_killed_stack_s_leftovers_are_stopped_by_the_next_one(tmp_path: Path) -> None:
    up, sleeper, stubborn = _supervising(tmp_path, STUBBORN)
    home = tmp_path / "home"
    with pytest.raises(StackError, match=f"irp up \\(pid {up.pid}\\) is already running"):
        Stack(StackConfig(home=home)).begin()
    up.kill()
    up.wait()
    assert gone(sleeper)  # the parent-death signal (SIGTERM) ended it
    assert running(stubborn)  # this one ignores SIGTERM: only the next stack can end it
    stopped = stop_leftovers(home / "run", timeout_s=1)
    assert stopped == [f"second (pid {stubborn}, killed)"]
    assert gone(stubborn)
    assert stop_leftovers(home / "run", timeout_s=1) == []


def _supervising(tmp_path: Path, second: list[str]) -> tuple[subprocess.Popen[bytes], int, int]:
    """Run SUPERVISING_SCRIPT; return it and the pids of its two children."""
    out = tmp_path / "up.out"
    with out.open("wb") as sink:
        up = subprocess.Popen(
            [sys.executable, "-c", SUPERVISING_SCRIPT, str(tmp_path / "home"), *second],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    line = until(lambda: out.read_text().split("\n", 1)[0].strip(), 60, "child pids printed")
    sleeper, stubborn = (int(pid) for pid in line.split())
    return up, sleeper, stubborn


def test_supervisor_names_a_child_by_its_title(tmp_path: Path) -> None:
    said: list[str] = []
    supervisor = Supervisor(said.append)
    spec = ProcessSpec(
        name="postgres",
        argv=(sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"),
        env=dict(os.environ),
        title="PostgreSQL (data in X)",
        when_down="the Prefect server and irp's database are unreachable until it is back",
    )
    supervisor.start(spec, tmp_path / "postgres.log", None, 10)
    try:
        until(lambda: supervisor.step() or said, 30, "the death reported")
        assert said[0].startswith("irp: PostgreSQL (data in X) (pid ")
        assert (
            "was killed by SIGKILL; the Prefect server and irp's database are unreachable"
            in (said[0])
        )
    finally:
        supervisor.stop()
