"""Two irp hosts on one Prefect server and PostgreSQL (issue 14), as an operator runs them.

Central: the embedded PostgreSQL (Prefect's database and irp's) and a Prefect server, started
by irp.stack as `irp up` does. Each host is a separate process tree with its own IRP_HOME and
working folder, running `deployments.serve` and `irp webhook`; where the kernel lets us
(`unshare`: user, PID, mount and UTS namespaces) each host is also its own machine by name and
process table, so the survivor cannot see the lost host's processes and must learn of its death
from Prefect's heartbeats, as with a real lost machine. Network: where root allows `ip netns`
(tests/hosts/netns.py), each host is its own network namespace on a bridge to the server side
(the Prefect server, Alertmanager and the notification receiver listen on the bridge), so hosts
talk to the server only over their veth; elsewhere (no root, as in unprivileged CI containers)
everything is on loopback. The code is this checkout's installed package on both hosts: a
working copy per host would only repeat the same files.

The real Alertmanager sends an alert storm to both webhooks: one incident per group, one flow
run each. A person reports a data breach detected two hours ago, whose PIPL clock has run out:
both hosts' watches and the flow itself race to remind. Then the host holding most waiting
runs is killed (SIGKILL to its whole tree); its incidents are taken over by the other host and
every incident is answered to its end.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deployments.recovery import AUTOMATION
from models.enums import IncidentType
from tests.factories import make_intake
from tests.hosts.central import (
    central_stack,
    flow_run,
    start_run,
    wait_for,
)
from tests.hosts.hosts import TOKEN, namespaces_allowed, start_host
from tests.hosts.incidents import (
    answer_gates,
    incidents,
    preserve_evidence,
    said_twice,
    still_open,
    waiting_runs,
)
from tests.hosts.netns import host_network, server_address
from tests.notify.helpers import routed_plan
from tests.notify.receiver import Receiver
from tests.webhook.alertmanager import alertmanager, api_alert, push

pytestmark = [pytest.mark.slow, pytest.mark.no_database]

SERVICES = ("orders", "payments", "search")
ALERTS_PER_GROUP = 8
HEARTBEAT_TIMEOUT_S = 45  # Prefect's heartbeats come every 30 s at the least: 1.5 of them


def storm(started: datetime) -> list[dict[str, Any]]:
    return [
        api_alert("ServiceDown", service, started, instance=f"{service}-{n}")
        for service in SERVICES
        for n in range(ALERTS_PER_GROUP)
    ]


def test_two_hosts_take_a_storm_and_survive_losing_one(tmp_path: Path) -> None:
    isolated = namespaces_allowed()
    began = time.monotonic()
    phases: dict[str, float] = {}
    with (
        host_network(["a", "b"]) as network,
        central_stack(host=server_address(network)) as central,
        Receiver(host=server_address(network)) as receiver,
        central.api() as api,
    ):
        plan_file, _ = routed_plan(tmp_path, receiver)
        phases["central up"] = time.monotonic() - began
        settings = {
            "IRP_PLAN_FILE": str(plan_file),
            "IRP_GATE_SUSPEND_AFTER_S": "600",  # waiting runs keep their process: a kill strands them
            "IRP_GATE_POLL_INTERVAL_S": "1",
            "IRP_RUN_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        }
        hosts = [
            start_host(central, n, tmp_path, settings, isolated, network=network)
            for n in ("a", "b")
        ]
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
                    lambda: len(incidents(central)) == len(SERVICES),
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
                lambda: waiting_runs(central, api, total),
                deadline_s=180,
            )
            phases["runs at gates"] = time.monotonic() - began
            [breach_id] = [i for i, r in incidents(central).items() if r["type"] == "data_breach"]
            preserve_evidence(central, breach_id, tmp_path / "engineer")
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

            try:
                wait_for(
                    "every incident answered to its end on the surviving host",
                    lambda: answer_gates(central, api),
                    deadline_s=300,
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{still_open(central, api)}") from None
            phases["kill to all ended"] = time.monotonic() - killed_at
            print(
                f"isolated hosts: {isolated}; own networks: {network is not None}; lost host ran {len(stranded)} of {total} incidents; "
                + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
            )
        finally:
            for host in hosts:
                if host.process.poll() is None:
                    host.kill()

        automations = api.post("/automations/filter", json={}).json()
        assert [a["name"] for a in automations].count(AUTOMATION) == 1  # both hosts made one

        ended = incidents(central)
        assert {i["status"] for i in ended.values()} == {"closed"}
        alerts = central.rows("SELECT count(*) FROM alert")[0][0]
        assert alerts == len(SERVICES) * ALERTS_PER_GROUP  # none lost, none stored twice

        final_runs = {i: flow_run(api, ended[i]["run"]) for i in ended}
        assert all(survivor.runs(r["labels"]) or i not in stranded for i, r in final_runs.items())
        assert {i for i in ended if ended[i]["run"] != runs[i]["id"]} == set(stranded)
        recovered = central.rows(
            "SELECT incident_id FROM timeline_event WHERE kind = 'run_recovered'"
        )
        assert sorted(r[0] for r in recovered) == sorted(stranded)

        assert said_twice(central) == []

        claimed = central.rows("SELECT count(*) FROM clock_reminder")[0][0]
        assert claimed >= 1
        reminders = _legal_reminders(receiver, claimed)
        assert len(reminders) == claimed  # every claimed reminder sent, none twice
        pipl = [r for r in reminders if "clock pipl" in r.json["message"]]
        assert len(pipl) == 1


def _legal_reminders(receiver: Receiver, expected: int, deadline_s: float = 60) -> list[Any]:
    """The reminders legal received, once `expected` arrived (the deadline watch queues them;
    a surviving host's delivery worker sends them) or the deadline passed."""
    end = time.monotonic() + deadline_s
    while True:
        found = [
            r
            for r in receiver.requests
            if r.path == "/legal" and "reminder" in (r.json or {}).get("title", "")
        ]
        if len(found) >= expected or time.monotonic() > end:
            return found
        time.sleep(0.2)
