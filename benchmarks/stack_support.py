"""The default stack for a benchmark: `irp up` as a process, as `make up` starts it, in a
temporary home (PostgreSQL for Prefect and irp, served deployments, the webhook), stopped after.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.webhook_support import TOKEN, free_port
from irp.prefect_auth import read_auth_file

T = TypeVar("T")
STACK_DEADLINE_S = 240


@dataclass(frozen=True)
class LiveStack:
    home: Path
    info: dict[str, Any]
    """$IRP_HOME/run/stack.json: api_url, webhook_url, irp_database_url, ..."""

    def client_env(self) -> dict[str, str]:
        """Environment for a process that talks to this stack's Prefect server."""
        return {
            **os.environ,
            "IRP_HOME": str(self.home),
            "PREFECT_API_URL": self.info["api_url"],
            "PREFECT_API_AUTH_STRING": read_auth_file(Path(self.info["prefect_auth_file"])) or "",
            "PREFECT_HOME": str(self.home / "bench-prefect"),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        }


def until(check: Callable[[], T | None], deadline_s: float, what: str) -> T:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


@contextmanager
def running_stack(extra_env: Mapping[str, str] = {}) -> Iterator[LiveStack]:
    """`irp up` in its own process group (tests/irp/processes.py starts it as the end-to-end
    test does), in a folder PostgreSQL's own user may traverse."""
    from tests.irp.processes import irp_up

    base = Path(tempfile.mkdtemp(prefix="irp-bench-stack-"))
    os.chmod(base, 0o755)
    home = base / "home"
    home.mkdir()
    env = {
        "IRP_PREFECT_PORT": str(free_port()),
        "IRP_WEBHOOK_PORT": str(free_port()),
        "IRP_WEBHOOK_TOKEN": TOKEN,
        **extra_env,
    }
    with irp_up(home, env, STACK_DEADLINE_S) as (_, info):
        yield LiveStack(home, info)


def spread(samples: list[float], name: str) -> dict[str, float]:
    """A figure with its spread: median, p95, min and max over the samples. The p95 is
    interpolated between samples ("inclusive"): the default method extrapolates above the
    maximum when there are few samples (10 here)."""
    ordered = sorted(samples)
    p95 = (
        statistics.quantiles(ordered, n=20, method="inclusive")[18]
        if len(ordered) > 1
        else ordered[0]
    )
    return {
        f"{name}_p50_s": round(statistics.median(ordered), 3),
        f"{name}_p95_s": round(p95, 3),
        f"{name}_min_s": round(ordered[0], 3),
        f"{name}_max_s": round(ordered[-1], 3),
    }


def open_by_alert(stack: LiveStack, service: str, fingerprint: str) -> str:
    """POST one firing ServiceDown alert for a new service to the stack's webhook, as
    Alertmanager does; the id of the incident it opened."""
    import httpx

    starts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    alert = {
        "status": "firing",
        "labels": {"alertname": "ServiceDown", "service": service},
        "annotations": {"summary": f"{service} down"},
        "startsAt": starts,
        "fingerprint": fingerprint,
    }
    answer = httpx.post(
        f"{stack.info['webhook_url']}/alerts/alertmanager",
        json={"version": "4", "status": "firing", "alerts": [alert]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
        trust_env=False,
    )
    answer.raise_for_status()
    [incident_id] = answer.json()["incidents_opened"]
    return str(incident_id)
