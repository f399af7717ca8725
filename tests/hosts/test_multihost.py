"""Two irp hosts on one Prefect server and PostgreSQL (issue 14), as an operator runs them.

Central: the embedded PostgreSQL (Prefect's database and irp's) and a Prefect server, started
by irp.stack as `irp up` does. Each host is a separate process tree with its own IRP_HOME and
working folder, running `deployments.serve` and `irp webhook`; where the kernel lets us
(`unshare`: user, PID, mount and UTS namespaces) each host is also its own machine by name and
process table, so the survivor cannot see the lost host's processes and must learn of its death
from Prefect's heartbeats, as with a real lost machine. Network: loopback for all (no `ip
netns`: it needs root and veth set-up CI runners do not give). The code is this checkout's
installed package on both hosts: a working copy per host would only repeat the same files.

The real Alertmanager sends an alert storm to both webhooks: one incident per group, one flow
run each. A person reports a data breach detected two hours ago, whose PIPL clock has run out:
both hosts' watches and the flow itself race to remind. Then the host holding most waiting
runs is killed (SIGKILL to its whole tree); its incidents are taken over by the other host and
every incident is answered to its end.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployments.recovery import AUTOMATION
from models.enums import IncidentType
from tests.factories import make_intake
from tests.hosts.central import (
    Central,
    central_stack,
    flow_run,
    start_run,
    wait_for,
)
from tests.hosts.hosts import TOKEN, namespaces_allowed, start_host
from tests.notify.helpers import routed_plan
from tests.notify.receiver import Receiver
from tests.webhook.alertmanager import alertmanager, api_alert, push

pytestmark = [pytest.mark.slow, pytest.mark.no_database]

SERVICES = ("orders", "payments", "search")
ALERTS_PER_GROUP = 8
HEARTBEAT_TIMEOUT_S = 45  # Prefect's heartbeats come every 30 s at the least: 1.5 of them
ENDED = ("closed", "rejected", "stopped")


def storm(started: datetime) -> list[dict[str, Any]]:
    return [
        api_alert("ServiceDown", service, started, instance=f"{service}-{n}")
        for service in SERVICES
        for n in range(ALERTS_PER_GROUP)
    ]


def _incidents(central: Central) -> dict[str, dict[str, Any]]:
    rows = central.rows("SELECT id, type, status, flow_run_id, dedup_key FROM incident")
    return {r[0]: {"type": r[1], "status": r[2], "run": r[3], "key": r[4]} for r in rows}


def _waiting_runs(central: Central, api: httpx.Client, count: int) -> dict[str, dict[str, Any]]:
    """Incident -> its run, once `count` incidents each have a labelled run paused at a gate."""
    found = {}
    for incident_id, incident in _incidents(central).items():
        if incident["run"]:
            run = flow_run(api, incident["run"])
            if run["state_type"] == "PAUSED" and "irp.pid" in run["labels"]:
                found[incident_id] = run
    return found if len(found) == count else {}


def _answer_gates(central: Central, api: httpx.Client) -> bool:
    """Approve every gate an open incident's current run waits at, as its first decider would
    in the Prefect UI; True once every incident has ended."""
    incidents = _incidents(central)
    waits = central.rows(
        "SELECT incident_id, data FROM timeline_event WHERE kind IN ('gate_waiting',"
        " 'gate_reasked') ORDER BY id"
    )
    latest = {i: d if isinstance(d, dict) else json.loads(d) for i, d in waits}
    for incident_id, incident in incidents.items():
        wait = latest.get(incident_id)
        if incident["status"] in ENDED or wait is None or wait["flow_run_id"] != incident["run"]:
            continue
        if flow_run(api, incident["run"])["state_type"] != "PAUSED":
            continue
        answer = {"decision": "approve", "approver": wait["deciders"][0], "comment": "multi-host"}
        api.post(f"/flow_runs/{incident['run']}/resume", json={"run_input": answer})
    return all(i["status"] in ENDED for i in _incidents(central).values())


def test_two_hosts_take_a_storm_and_survive_losing_one(tmp_path: Path) -> None:
    isolated = namespaces_allowed()
    began = time.monotonic()
    phases: dict[str, float] = {}
    with central_stack() as central, Receiver() as receiver, central.api() as api:
        plan_file, _ = routed_plan(tmp_path, receiver)
        phases["central up"] = time.monotonic() - began
        settings = {
            "IRP_PLAN_FILE": str(plan_file),
            "IRP_GATE_SUSPEND_AFTER_S": "600",  # waiting runs keep their process: a kill strands them
            "IRP_GATE_POLL_INTERVAL_S": "1",
            "IRP_RUN_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        }
        hosts = [start_host(central, n, tmp_path, settings, isolated) for n in ("a", "b")]
        try:
            for host in hosts:
                wait_for(
                    f"host {host.name}'s webhook",
                    lambda h=host: h.healthy(),
                )
            wait_for(
                "serve to register the deployments",
                lambda: api.get("/deployments/name/data-breach/irp").status_code == 200,
            )
            phases["hosts up"] = time.monotonic() - began
            started = datetime.now(UTC)
            with alertmanager(tmp_path / "am", [h.webhook_url for h in hosts], TOKEN) as am:
                push(am, storm(started))
                wait_for(
                    "one incident per alert group",
                    lambda: len(_incidents(central)) == len(SERVICES),
                )
            breach = make_intake(
                IncidentType.data_breach,
                summary="Customer export endpoint leaked records",
                detected_at=started - timedelta(hours=2),  # the PIPL hour is long over
            )
            start_run(api, "data-breach/irp", {"intake": breach.model_dump(mode="json")})
            total = len(SERVICES) + 1
            runs = wait_for(
                "every incident's run waiting at its first gate",
                lambda: _waiting_runs(central, api, total),
                deadline_s=180,
            )
            phases["runs at gates"] = time.monotonic() - began
            first_runs = api.post("/flow_runs/filter", json={}).json()
            incident_runs = [r for r in first_runs if r["name"].startswith("INC-")]
            assert len(incident_runs) == total  # each incident's flow started once

            on_host = {h.name: [i for i, r in runs.items() if h.runs(r["labels"])] for h in hosts}
            assert sorted(sum(on_host.values(), [])) == sorted(runs)  # each run on one host
            lost, survivor = sorted(hosts, key=lambda h: -len(on_host[h.name]))
            stranded = on_host[lost.name]
            killed_at = time.monotonic()
            lost.kill()
            wait_for(
                "the lost host's incidents taken over",
                lambda: (
                    len(central.rows("SELECT 1 FROM timeline_event WHERE kind = 'run_recovered'"))
                    == len(stranded)
                ),
                deadline_s=180,
            )
            phases["kill to taken over"] = time.monotonic() - killed_at

            wait_for(
                "every incident answered to its end on the surviving host",
                lambda: _answer_gates(central, api),
                deadline_s=300,
            )
            phases["kill to all ended"] = time.monotonic() - killed_at
            print(
                f"isolated hosts: {isolated}; lost host ran {len(stranded)} of {total} incidents; "
                + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
            )
        finally:
            for host in hosts:
                if host.process.poll() is None:
                    host.kill()

        automations = api.post("/automations/filter", json={}).json()
        assert [a["name"] for a in automations].count(AUTOMATION) == 1  # both hosts made one

        incidents = _incidents(central)
        assert {i["status"] for i in incidents.values()} == {"closed"}
        alerts = central.rows("SELECT count(*) FROM alert")[0][0]
        assert alerts == len(SERVICES) * ALERTS_PER_GROUP  # none lost, none stored twice

        final_runs = {i: flow_run(api, incidents[i]["run"]) for i in incidents}
        assert all(survivor.runs(r["labels"]) or i not in stranded for i, r in final_runs.items())
        assert {i for i in incidents if incidents[i]["run"] != runs[i]["id"]} == set(stranded)
        recovered = central.rows(
            "SELECT incident_id FROM timeline_event WHERE kind = 'run_recovered'"
        )
        assert sorted(r[0] for r in recovered) == sorted(stranded)

        once = central.rows(
            "SELECT incident_id, kind, stage, message FROM timeline_event"
            " WHERE kind IN ('stage_started', 'gate_waiting', 'gate_decision', 'stage_completed')"
        )
        repeated = [k for k, n in Counter(map(tuple, once)).items() if n > 1]
        assert repeated == []

        reminders = [
            r
            for r in receiver.requests
            if r.path == "/legal" and "reminder" in (r.json or {}).get("title", "")
        ]
        claimed = central.rows("SELECT count(*) FROM clock_reminder")[0][0]
        assert claimed >= 1
        assert len(reminders) == claimed  # every claimed reminder sent, none twice
        pipl = [r for r in reminders if "clock pipl" in r.json["message"]]
        assert len(pipl) == 1
