"""What the Prefect UI does when someone submits a paused run's form: POST resume with the
form's values as `run_input`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx

from tests.irp.processes import until


def resume_as_ui(prefect_api: str, run_id: UUID | str, run_input: dict[str, Any]) -> str:
    """Submit `run_input` to the paused run and return Prefect's verdict (ACCEPT, REJECT...).

    The test server keeps its state in SQLite, which under load answers a resume with a 5xx
    ("database is locked", rolled back); like a person pressing the button again, such an
    answer is retried. The shipped stack's server runs on PostgreSQL."""

    def post() -> dict[str, Any] | None:
        with httpx.Client(trust_env=False, timeout=10) as client:
            response = client.post(
                f"{prefect_api}/flow_runs/{run_id}/resume", json={"run_input": run_input}
            )
        if response.status_code >= 500:
            return None
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    verdict = until(post, deadline_s=60, what="the Prefect server to take the resume")
    return str(verdict["status"])
