"""Alert storm: 10,000 alerts in 100 groups through the real Alertmanager into the webhook.

Alerts are pushed to Alertmanager's API interleaved (each push grows every group), so
Alertmanager re-sends groups with alerts irp already has: dedup is exercised, not just
insertion. Dispatch is a counter of dispatch calls (a file the webhook appends to), not
Prefect. Without the Alertmanager binary, the same bodies are posted to the webhook directly.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from benchmarks.webhook_support import (
    DATABASES,
    FIGURE_SUFFIX,
    TOKEN,
    count_rows,
    irp_database,
    uvicorn_process,
)
from tests.webhook.alertmanager import BINARY, alertmanager, api_alert, push

GROUPS = 100
PER_GROUP = 100
PUSHES = 10
DEADLINE_S = 300


def alerts_for_push(k: int, started: datetime) -> list[dict[str, Any]]:
    per_push = PER_GROUP // PUSHES
    return [
        api_alert("ServiceDown", f"svc-{g:03d}", started, instance=f"i-{i:03d}")
        for g in range(GROUPS)
        for i in range(k * per_push, (k + 1) * per_push)
    ]


def counts(database_url: str) -> tuple[int, int]:
    return count_rows(database_url, "alert"), count_rows(database_url, "incident")


async def post_direct(url: str, pushes: list[list[dict[str, Any]]]) -> None:
    """No Alertmanager: send what it would, one body per group per push."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=60) as client:
        for alerts in pushes:
            groups: dict[str, list[dict[str, Any]]] = {}
            for alert in alerts:
                wire = {**alert, "status": "firing", "endsAt": "0001-01-01T00:00:00Z"}
                wire["fingerprint"] = f"{alert['labels']['service']}-{alert['labels']['instance']}"
                groups.setdefault(alert["labels"]["service"], []).append(wire)
            await asyncio.gather(
                *(
                    client.post(
                        f"{url}/alerts/alertmanager",
                        json={"version": "4", "status": "firing", "alerts": group},
                        headers=headers,
                    )
                    for group in groups.values()
                )
            )


def storm(kind: str, tmp: Path, real: bool) -> dict[str, float]:
    """One storm into a fresh irp database of `kind`; figures for PostgreSQL end in `_pg`."""
    started = datetime.now(UTC) - timedelta(minutes=1)
    pushes = [alerts_for_push(k, started) for k in range(PUSHES)]
    total = GROUPS * PER_GROUP
    home = tmp / kind
    with irp_database(kind, home) as database_url:
        with uvicorn_process("irp_app", home, database_url=database_url) as url:
            begin = time.monotonic()
            if real:
                with alertmanager(tmp / f"am-{kind}", url, TOKEN) as am:
                    for batch in pushes:
                        push(am, batch)
                    stored = _wait_stored(database_url, total, begin)
            else:
                asyncio.run(post_direct(url, pushes))
                stored = _wait_stored(database_url, total, begin)
            storm_s = time.monotonic() - begin
            stored_rows, incidents = counts(database_url)
            _wait_dispatched(home, incidents)
        dispatched = (home / "dispatched.txt").read_text().split()
    suffix = FIGURE_SUFFIX[kind]
    return {
        f"storm_incidents{suffix}": incidents,
        f"storm_alerts_stored{suffix}": stored_rows,
        f"storm_lost{suffix}": total - stored,
        f"storm_duplicate_runs{suffix}": len(dispatched) - len(set(dispatched)),
        f"storm_dispatched{suffix}": len(set(dispatched)),
        f"storm_s{suffix}": round(storm_s, 2),
    }


def main() -> None:
    real = shutil.which(BINARY) is not None
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="irp-bench-storm-") as tmp:
        for kind in DATABASES:
            figures |= storm(kind, Path(tmp), real)
    print(f"alertmanager: {'real' if real else 'simulated'}; dispatch: counter", file=sys.stderr)
    print(json.dumps(figures))


def _wait_stored(database_url: str, total: int, begin: float) -> int:
    """Benchmark, not a test: poll the database until every alert is stored or time is up."""
    stored = 0
    while time.monotonic() - begin < DEADLINE_S:
        stored = count_rows(database_url, "alert")
        if stored >= total:
            break
        time.sleep(0.1)
    return stored


def _wait_dispatched(home: Path, incidents: int) -> None:
    log = home / "dispatched.txt"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if log.exists() and len(set(log.read_text().split())) >= incidents:
            return
        time.sleep(0.1)


if __name__ == "__main__":
    main()
