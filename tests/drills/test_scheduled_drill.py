"""A drill deployment on a schedule fires by itself and leaves its scorecard on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from irp.db import session_scope
from irp.settings import get_settings
from models import Incident
from tests.factories import fast_retries, plan_data, write_plan

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _scored_drill(deadline_s: float, serving: subprocess.Popen[str]) -> str | None:
    """Wait (bounded) until a drill incident has its scorecard, or the server process dies."""
    deadline = time.monotonic() + deadline_s
    reports = get_settings().reports_dir
    while time.monotonic() < deadline and serving.poll() is None:
        with session_scope() as session:
            ids = session.exec(select(Incident.id).where(col(Incident.drill).is_(True))).all()
        for incident_id in ids:
            if (reports / incident_id / "scorecard.csv").exists():
                return incident_id
        time.sleep(0.25)
    return None


def _schedule_when_served(api_url: str, deployment: str, serving: subprocess.Popen[str]) -> None:
    """The test server runs no scheduler service (Prefect disables it in ephemeral servers):
    once `serve` registered the deployment, ask the server to make runs from its schedule,
    the call the scheduler service makes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and serving.poll() is None:
        found = httpx.get(f"{api_url}/deployments/name/{deployment}", timeout=10)
        if found.status_code == 200:
            body = found.json()
            assert body["schedules"], body
            scheduled = httpx.post(
                f"{api_url}/deployments/{body['id']}/schedule",
                json={"min_runs": 1, "max_runs": 1},
                timeout=10,
            )
            if scheduled.status_code == 503:  # the test server's SQLite was locked: retry,
                time.sleep(0.25)  # as Prefect's own client does
                continue
            assert scheduled.status_code < 300, scheduled.text
            return
        time.sleep(0.25)
    raise AssertionError(f"deployment {deployment} was never served")


def test_a_scheduled_drill_fires_and_writes_its_scorecard(tmp_path: Path, prefect_api: str) -> None:
    name = f"sched-{uuid.uuid4().hex[:8]}"
    data = fast_retries(plan_data())
    data["drills"]["scenarios"] = {
        name: {
            "title": "Database host down, on a short schedule",
            "incident_type": "system_failure",
            "interval_s": 2,
            "report": {"failed_components": ["db-primary"]},
            "shortfall": {"spare_servers": 5},
        }
    }
    plan_file = write_plan(tmp_path, data)
    env = {**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "serve.log").open("w")
    serving = subprocess.Popen(
        [sys.executable, "-m", "tests.drills.serve_drills", str(plan_file)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _schedule_when_served(prefect_api, f"system-failure/drill-{name}", serving)
        incident_id = _scored_drill(120, serving)
    finally:
        os.killpg(serving.pid, signal.SIGTERM)
        serving.wait(timeout=30)
        log.close()
    assert incident_id is not None, (tmp_path / "serve.log").read_text()[-3000:]
    folder = get_settings().reports_dir / incident_id
    scorecard = (folder / "scorecard.csv").read_text(encoding="utf-8")
    assert scorecard.startswith("kind,name,target_s,actual_s,result,note")
    evidence = (folder / "drill-record.md").read_text(encoding="utf-8")
    assert name in evidence and "Resource shortfall: 1 x spare_servers" in evidence
