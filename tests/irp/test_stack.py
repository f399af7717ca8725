"""The local stack for real: embedded PostgreSQL, `prefect server start`, a flow from a child."""

from __future__ import annotations

import json
import os
import select
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

# The stack brings its own PostgreSQL for irp's tables: no per-test database.
pytestmark = [pytest.mark.slow, pytest.mark.no_database]

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_get(stack: Stack, path: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{stack.api_url}{path}", timeout=10) as response:
        return json.load(response)


def process_gone(pid: int) -> bool:
    """Block until `pid` has exited (pidfd readable), then report it is gone or a zombie."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], 10)
        return bool(readable)
    finally:
        os.close(fd)


@dataclass
class FirstRun:
    home: Path
    flow_run: dict[str, Any]
    server_pid: int
    postgres_dir: Path


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """A cold stack on a new home that ran one flow from a child process, then stopped."""
    home = tmp_path_factory.mktemp("stack") / "home"
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
        server_pid = stack.processes[0].pid
        postgres_dir = stack.postgres.data_dir
    return FirstRun(home, flow_run, server_pid, postgres_dir)


def test_flow_run_from_a_child_process_completes_on_the_stack(first_run: FirstRun) -> None:
    assert first_run.flow_run["name"]
    assert first_run.flow_run["state_type"] == "COMPLETED"
    assert (first_run.home / "logs" / "prefect-server.log").is_file()
    assert (first_run.home / "prefect").is_dir()


def test_stop_ends_the_server_and_postgres(first_run: FirstRun) -> None:
    assert process_gone(first_run.server_pid)
    assert not (first_run.postgres_dir / "postmaster.pid").exists()


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
            flow_run = api_get(stack, f"/flow_runs/{first_run.flow_run['id']}")
            assert flow_run["state_type"] == "COMPLETED"
        assert not (tmp_path / "other" / "postgres").exists()
    finally:
        postgres.stop()


def test_port_in_use_is_a_clear_error_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = Stack(StackConfig(home=tmp_path / "home", prefect_port=port))
        with pytest.raises(StackError, match=f"port {port} on 127.0.0.1 is already in use"):
            stack.start()
    assert not (tmp_path / "home" / "postgres").exists()


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
    stack = Stack(StackConfig(home=tmp_path / "home"))
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
    assert process_gone(grandchild)


def test_run_forever_stops_everything_when_a_child_dies(bare_stack: Stack, tmp_path: Path) -> None:
    sleeper = bare_stack.add_process(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], cwd=tmp_path
    )
    bare_stack.add_process("quitter", [sys.executable, "-c", "raise SystemExit(3)"], cwd=tmp_path)
    with pytest.raises(StackError, match="quitter exited with code 3"):
        bare_stack.run_forever(poll_s=0.05)
    assert bare_stack.processes == []
    assert process_gone(sleeper.pid)


INTERRUPTED_SCRIPT = """
import sys
from pathlib import Path
from irp.stack import Stack, StackConfig

stack = Stack(StackConfig(home=Path(sys.argv[1])))
try:
    child = stack.add_process("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"])
    print(child.pid, flush=True)
    stack.run_forever(poll_s=0.05)
finally:
    stack.stop()
"""


def test_ctrl_c_stops_the_children(tmp_path: Path) -> None:
    up = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_SCRIPT, str(tmp_path / "home")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert up.stdout is not None
    child_pid = int(up.stdout.readline())
    up.send_signal(signal.SIGINT)
    up.wait(timeout=30)
    up.stdout.close()
    assert process_gone(child_pid)
