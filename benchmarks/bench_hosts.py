"""Several hosts on one Prefect server and PostgreSQL (issue 14), on this one machine.

- runs_per_min_1host / runs_per_min_2hosts: auto-approved system-failure drills created at once
  on `system-failure/irp` and run to completion by one serve host, then by two (hosts as in
  tests/hosts: separate process trees, own namespaces where allowed). Two hosts on one machine
  share its cores: the figure says what the second runner costs or gains, not what a second
  machine would.
- cpu_s_per_run: CPU seconds of the serving host's processes (serve and its flow-run processes;
  not the Prefect server or PostgreSQL) per run, one host.
- storm_2webhooks_*: STORM_GROUPS x STORM_PER_GROUP alerts through the real Alertmanager to two
  webhook hosts at once (no serve: runs stay Scheduled); lost = alerts not stored, duplicate
  runs = flow runs beyond one per incident.

BENCH_HOSTS_RUNS (default 6) sets the drills per phase.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.hosts.central import Central, central_stack, start_run, wait_for
from tests.hosts.hosts import TOKEN, Host, namespaces_allowed, start_host
from tests.webhook.alertmanager import alertmanager, api_alert, push

RUNS = int(os.environ.get("BENCH_HOSTS_RUNS", "6"))
STORM_GROUPS = 20
STORM_PER_GROUP = 50
DEADLINE_S = 600
SERVING = "being served"  # serve's starting message, once its runner polls


def drills(central: Central, api: httpx.Client, count: int) -> float:
    """Create `count` drills at once; seconds until every one completed."""
    from models.enums import IncidentType
    from tests.factories import make_intake

    report = make_intake(IncidentType.system_failure, summary="bench drill").model_dump(mode="json")
    begin = time.monotonic()
    ids = [
        start_run(
            api, "system-failure/irp", {"intake": report, "drill": True, "auto_approve": True}
        )
        for _ in range(count)
    ]

    def completed() -> bool:
        found = api.post(
            "/flow_runs/filter", json={"flow_runs": {"id": {"any_": ids}}, "limit": 200}
        ).json()
        failed = [r["id"] for r in found if r["state_type"] in ("FAILED", "CRASHED", "CANCELLED")]
        if failed:
            raise RuntimeError(f"drill runs did not complete: {failed}")
        return len([r for r in found if r["state_type"] == "COMPLETED"]) == count

    wait_for(f"{count} drills to complete", completed, deadline_s=DEADLINE_S)
    return time.monotonic() - begin


def cpu_s(hosts: list[Host]) -> float:
    """CPU of the hosts' live processes and of the children they reaped (finished flow runs)."""
    total = 0.0
    for host in hosts:
        for process in host.tree():
            t = process.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def storm(central: Central, api: httpx.Client, folder: Path, isolated: bool) -> dict[str, float]:
    webhooks = [
        start_host(central, f"webhook-{n}", folder, {}, isolated, serve=False) for n in (1, 2)
    ]
    try:
        for host in webhooks:
            wait_for(f"{host.name}", host.healthy)
        started = datetime.now(UTC) - timedelta(minutes=1)
        alerts = [
            api_alert("ServiceDown", f"svc-{g:02d}", started, instance=f"i-{i:03d}")
            for g in range(STORM_GROUPS)
            for i in range(STORM_PER_GROUP)
        ]
        total = len(alerts)
        with alertmanager(folder / "am", [h.webhook_url for h in webhooks], TOKEN) as am:
            push(am, alerts)
            end = time.monotonic() + DEADLINE_S
            stored = 0
            while time.monotonic() < end:
                stored = central.rows("SELECT count(*) FROM alert")[0][0]
                dispatched = central.rows(
                    "SELECT count(*) FROM incident WHERE flow_run_id IS NOT NULL AND NOT drill"
                )[0][0]
                if stored >= total and dispatched >= STORM_GROUPS:
                    break
                time.sleep(0.5)
        runs = api.post("/flow_runs/filter", json={"limit": 200}).json()
        per_incident = Counter(r["name"].split()[0] for r in runs if r["name"].startswith("INC-"))
        return {
            "storm_2webhooks_alerts": total,
            "storm_2webhooks_incidents": central.rows(
                "SELECT count(*) FROM incident WHERE NOT drill"
            )[0][0],
            "storm_2webhooks_lost": total - stored,
            "storm_2webhooks_duplicate_runs": sum(n - 1 for n in per_incident.values()),
        }
    finally:
        for host in webhooks:
            host.kill()


def main() -> None:
    isolated = namespaces_allowed()
    figures: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="irp-bench-hosts-") as tmp,
        central_stack() as central,
        central.api() as api,
    ):
        folder = Path(tmp)
        settings = {"IRP_RUN_LIMIT": "16"}
        hosts = [start_host(central, "a", folder, settings, isolated, webhook=False)]
        try:
            wait_for(
                "host a to serve",
                lambda: SERVING in hosts[0].log.read_text(errors="replace"),
                deadline_s=180,
            )
            drills(central, api, 1)  # warm: deployments, first imports, database
            before = cpu_s(hosts)
            one = drills(central, api, RUNS)
            figures["cpu_s_per_run"] = round((cpu_s(hosts) - before) / RUNS, 2)
            figures["runs_per_min_1host"] = round(RUNS / one * 60, 1)
            hosts.append(start_host(central, "b", folder, settings, isolated, webhook=False))
            wait_for(
                "host b to serve",
                lambda: SERVING in hosts[1].log.read_text(errors="replace"),
                deadline_s=180,
            )
            two = drills(central, api, RUNS * 2)
            figures["runs_per_min_2hosts"] = round(RUNS * 2 / two * 60, 1)
        finally:
            for host in hosts:
                host.kill()
        figures |= storm(central, api, folder, isolated)
    print(f"hosts isolated by namespaces: {isolated}; drills per phase: {RUNS}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
