"""A closed Prefect API on the default stack: `irp up` (as `make up` starts it) makes a secret
on its first start, keeps it in a 0600 file stack.json names, and its Prefect server refuses
every request without it; the CLI, serve and the webhook present it; the UI asks for it; it
shows up in no log, command line, stack.json, report, artifact or flow-run log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa

from irp.prefect_auth import AUTH_FILE_NAME, basic_auth_header, read_auth_file
from tests.irp.processes import api_headers, free_port, irp_up, stack_home, until

pytestmark = [pytest.mark.slow, pytest.mark.no_database]

TOKEN = "apiauth-webhook-token"
STACK_DEADLINE_S = 240
IRP = Path(sys.executable).parent / "irp"


@dataclass
class Closed:
    home: Path
    info: dict[str, Any]
    secret: str
    api: httpx.Client

    def irp(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The CLI in a shell that knows only IRP_HOME (no Prefect variable, no secret)."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("IRP_", "PREFECT_"))}
        return subprocess.run(
            [str(IRP), *args],
            env={**clean, "IRP_HOME": str(self.home), **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def flow_run(self, run_id: str) -> dict[str, Any]:
        response = self.api.get(f"/flow_runs/{run_id}")
        response.raise_for_status()
        run: dict[str, Any] = response.json()
        return run


@pytest.fixture(scope="module")
def closed() -> Iterator[Closed]:
    with stack_home() as home:
        home.mkdir(parents=True)
        env = {
            "IRP_PREFECT_PORT": str(free_port()),
            "IRP_WEBHOOK_PORT": str(free_port()),
            "IRP_WEBHOOK_TOKEN": TOKEN,
        }
        with irp_up(home, env, STACK_DEADLINE_S) as (_, info):
            secret = read_auth_file(Path(info["prefect_auth_file"]))
            assert secret
            headers = api_headers(info)
            with httpx.Client(
                base_url=info["api_url"], headers=headers, trust_env=False, timeout=30
            ) as api:
                yield Closed(home, info, secret, api)


def test_the_secret_is_a_0600_file_that_stack_json_names(closed: Closed) -> None:
    path = Path(closed.info["prefect_auth_file"])
    assert path == closed.home / AUTH_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user, password = closed.secret.split(":", 1)
    assert user and len(password) >= 32


def test_the_api_refuses_requests_without_the_secret(closed: Closed) -> None:
    url = f"{closed.info['api_url']}/flow_runs/filter"
    with httpx.Client(trust_env=False, timeout=30) as anyone:
        assert anyone.post(url, json={}).status_code == 401
        wrong = basic_auth_header(closed.secret.split(":")[0] + ":guessed")
        assert anyone.post(url, json={}, headers=wrong).status_code == 401
        resume = f"{closed.info['api_url']}/flow_runs/{'0' * 8}-0000-0000-0000-{'0' * 12}/resume"
        body = {"run_input": {"decision": "approve", "approver": "cio"}}
        assert anyone.post(resume, json=body).status_code == 401
    assert closed.api.post("/flow_runs/filter", json={}).status_code == 200


def test_the_ui_asks_for_the_secret(closed: Closed) -> None:
    """The UI's settings say the API wants basic auth: the UI shows its login form first."""
    with httpx.Client(trust_env=False, timeout=30) as browser:
        settings = browser.get(f"{closed.info['ui_url']}/ui-settings").json()
    assert settings["auth"] == "BASIC"


def _gate_waiting(closed: Closed, incident_id: str) -> str | None:
    """The incident's flow run id once it is paused at a gate."""
    engine = sa.create_engine(closed.info["irp_database_url"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        query = sa.text("SELECT flow_run_id FROM incident WHERE id = :id")
        run_id = conn.execute(query, {"id": incident_id}).scalar()
    engine.dispose()
    if not run_id or closed.flow_run(run_id)["state_type"] != "PAUSED":
        return None
    return str(run_id)


def test_the_cli_lists_and_approves_through_the_closed_api(closed: Closed) -> None:
    """An alert starts a run on serve (serve and the webhook present the secret); the CLI,
    given only IRP_HOME, sees the run alive and answers its gate."""
    alert = {"title": "Checkout down", "incident_type": "system_failure", "service": "checkout"}
    opened = httpx.post(
        f"{closed.info['webhook_url']}/alerts/generic",
        json=alert,
        headers={"Authorization": f"Bearer {TOKEN}"},
        trust_env=False,
        timeout=30,
    )
    assert opened.status_code == 202, opened.text
    (incident_id,) = opened.json()["incidents_opened"]
    run_id = until(
        lambda: _gate_waiting(closed, incident_id), STACK_DEADLINE_S, "the run at its gate"
    )

    listed = closed.irp("incidents", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = [r for r in json.loads(listed.stdout) if r["id"] == incident_id]
    assert row["run"] == "alive"

    paused = closed.flow_run(run_id)["state"]["id"]
    guessed = closed.irp(
        "approve", incident_id, "--by", "cio", env={"IRP_PREFECT_AUTH_STRING": "irp:guessed"}
    )
    assert guessed.returncode == 1
    assert "refused this command (HTTP 401)" in guessed.stderr
    assert "Traceback" not in guessed.stderr
    assert closed.flow_run(run_id)["state"]["id"] == paused

    answered = closed.irp(
        "approve", incident_id, "--decision", "approve", "--by", "cio", "--comment", "go"
    )
    assert answered.returncode == 0, answered.stderr
    until(
        lambda: closed.flow_run(run_id)["state"]["id"] != paused,
        120,
        "the run to go on past the gate",
    )


def _api_texts(closed: Closed) -> dict[str, str]:
    """What the API holds that people read: runs, deployments, logs, artifacts, variables,
    events, work pools."""
    texts = {}
    for what in ("flow_runs", "deployments", "logs", "artifacts", "variables", "work_pools"):
        response = closed.api.post(f"/{what}/filter", json={"limit": 200})
        assert response.status_code == 200, (what, response.text)
        texts[f"api {what}"] = response.text
    events = closed.api.post("/events/filter", json={"limit": 200})
    texts["api events"] = events.text
    return texts


def _files(home: Path) -> dict[str, str]:
    """Every file under home but the secret's own and PostgreSQL's data."""
    texts = {}
    for path in home.rglob("*"):
        if path.is_file() and path.name != AUTH_FILE_NAME and "postgres" not in path.parts:
            texts[str(path)] = path.read_bytes().decode(errors="replace")
    return texts


def _command_lines(home: Path) -> dict[str, str]:
    lines = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.environ().get("IRP_HOME") == str(home):
                lines[f"pid {process.pid}"] = " ".join(process.info["cmdline"] or [])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return lines


def test_the_secret_appears_nowhere_it_could_be_read(closed: Closed) -> None:
    """Runs last in this module: after a run, its logs and the CLI's work."""
    texts = {**_api_texts(closed), **_files(closed.home), **_command_lines(closed.home)}
    assert str(closed.home / "up.log") in texts and str(closed.home / "run" / "stack.json") in texts
    assert any(name.startswith("pid ") for name in texts)
    _, password = closed.secret.split(":", 1)
    leaks = [name for name, text in texts.items() if password in text]
    assert leaks == []
    assert f"paste the line in {closed.home / AUTH_FILE_NAME}" in texts[str(closed.home / "up.log")]
