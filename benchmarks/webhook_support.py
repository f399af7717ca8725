"""Shared by the webhook benchmarks: app factories for a uvicorn subprocess, and its control.

`irp_app` is the real webhook app whose dispatch only appends the incident id to the file
named by BENCH_DISPATCH_LOG (a counter of dispatch calls, no Prefect); `bare_app` only parses
JSON and answers 202, the baseline.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TOKEN = "bench-token-0123456789"
_lock = threading.Lock()


def irp_app() -> FastAPI:
    from deployments.webhook import create_app
    from irp.settings import get_settings
    from models.enums import IncidentType

    log = Path(os.environ["BENCH_DISPATCH_LOG"])

    def count(incident_id: str, incident_type: IncidentType, run_name: str) -> str:
        with _lock, log.open("a", encoding="utf-8") as out:
            out.write(f"{incident_id}\n")
        return f"counted-{incident_id}"

    return create_app(get_settings(), dispatch=count)


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.post("/alerts/alertmanager")
    async def receive(request: Request) -> JSONResponse:
        await request.json()
        return JSONResponse({"accepted": True}, 202)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DATABASES = ("sqlite", "postgresql")
FIGURE_SUFFIX = {"sqlite": "", "postgresql": "_pg"}


@contextmanager
def irp_database(kind: str, home: Path) -> Iterator[str]:
    """irp's database for a benchmark run: SQLite under `home`, or a database on an embedded
    PostgreSQL (what `irp up` ships) started in `home` and stopped after."""
    home.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        yield f"sqlite:///{home / 'irp.db'}"
        return
    from irp.stack import start_embedded_postgres

    server = start_embedded_postgres(home / "postgres")
    try:
        yield server.irp_url
    finally:
        server.stop()


def count_rows(database_url: str, table: str) -> int:
    """Rows in one of irp's tables (a fresh engine: the benchmark polls from outside the app)."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


@contextmanager
def uvicorn_process(
    factory: str, home: Path, extra_env: dict[str, str] | None = None, database_url: str = ""
) -> Iterator[str]:
    """Serve `benchmarks.webhook_support:<factory>` with uvicorn in a subprocess."""
    port = free_port()
    env = {
        **os.environ,
        **(extra_env or {}),
        "IRP_HOME": str(home),
        "IRP_WEBHOOK_TOKEN": TOKEN,
        "BENCH_DISPATCH_LOG": str(home / "dispatched.txt"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("IRP_DATABASE_URL", None)
    if database_url:
        env["IRP_DATABASE_URL"] = database_url
    home.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", f"benchmarks.webhook_support:{factory}",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        # A loaded machine can starve the client past uvicorn's 5 s keep-alive: the server then
        # closes a connection the client is about to reuse (httpx.ReadError mid-benchmark).
        "--timeout-keep-alive", "60",
    ]  # fmt: skip
    process = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{factory} did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(15)


def irp_app_prefect() -> FastAPI:
    """The webhook app as `irp webhook` builds it: dispatch through Prefect's API."""
    from deployments.webhook import create_app
    from irp.settings import get_settings, point_prefect_at_stack

    point_prefect_at_stack()
    return create_app(get_settings())
