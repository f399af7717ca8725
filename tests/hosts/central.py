"""The shared part of a multi-host irp, for tests: one embedded PostgreSQL holding the Prefect
server's database and irp's, and one Prefect server on it (irp.stack, as `irp up` starts them),
plus helpers to start and kill host processes against it."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from irp.stack import Stack, StackConfig
from tests.irp.processes import free_port, stack_home, until

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Central:
    """The running server side; `env` is what a host needs to reach it."""

    stack: Stack
    home: Path
    env: dict[str, str]

    @property
    def api_url(self) -> str:
        return self.stack.api_url

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, headers=self.stack.api_headers, trust_env=False, timeout=30
        )

    def rows(self, query: str, **params: Any) -> list[Any]:
        """Rows of irp's database, read as an operator would."""
        engine = sa.create_engine(self.env["IRP_DATABASE_URL"], poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(query), params))
        finally:
            engine.dispose()


@contextmanager
def central_stack(echo: Any = None, host: str = "127.0.0.1") -> Iterator[Central]:
    """PostgreSQL and a Prefect server (no UI) listening on `host` at a free port, stopped
    afterwards."""
    with stack_home() as home:
        stack = Stack(
            StackConfig(home, host=host, prefect_port=free_port(), ui=False),
            echo=echo or (lambda _line: None),
        )
        stack.start()
        try:
            env = dict(stack.env)
            env.update(PREFECT_CLI_PROMPT="false", PREFECT_LOGGING_LEVEL="WARNING")
            yield Central(stack, home, env)
        finally:
            stack.stop()


def host_env(central: Central, home: Path, **extra: str) -> dict[str, str]:
    """A host's environment: the central API and irp database, its own IRP_HOME."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in central.env.items()
        if not key.startswith("IRP_") or key == "IRP_DATABASE_URL"
    }
    env.update(IRP_HOME=str(home), PREFECT_HOME=str(home / "prefect"), **extra)
    env.setdefault("IRP_GATE_CODES", "false")  # answered by role, as the suite does
    return env


def start_process(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    """A process in its own session (its process group holds its flow runs)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    """Signal the process's whole group and reap it."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def flow_run(api: httpx.Client, run_id: str) -> dict[str, Any]:
    response = api.get(f"/flow_runs/{run_id}")
    response.raise_for_status()
    run: dict[str, Any] = response.json()
    return run


def deployment_names(api: httpx.Client) -> set[str]:
    """Every deployment the server knows, as `flow/name`."""
    flows = {f["id"]: f["name"] for f in api.post("/flows/filter", json={}).json()}
    return {
        f"{flows[d['flow_id']]}/{d['name']}"
        for d in api.post("/deployments/filter", json={}).json()
    }


def start_run(
    api: httpx.Client, deployment: str, parameters: dict[str, Any], work_queue: str | None = None
) -> str:
    """A flow run of `flow/deployment`, as the UI's Run button makes it (on another of its
    pool's work queues when `work_queue` names one); its id."""
    found = api.get(f"/deployments/name/{deployment}")
    found.raise_for_status()
    body: dict[str, Any] = {"parameters": parameters}
    if work_queue:
        body["work_queue_name"] = work_queue
    created = api.post(f"/deployments/{found.json()['id']}/create_flow_run", json=body)
    created.raise_for_status()
    return str(created.json()["id"])


def wait_for(what: str, check: Any, deadline_s: float = 120) -> Any:
    return until(check, deadline_s, what, every_s=0.5)
