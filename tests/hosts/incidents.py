"""Incidents of a multi-host test as an operator sees them: irp's rows and Prefect's runs, and
the gates answered as each incident's first decider would in the Prefect UI."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.hosts.central import Central, flow_run

ENDED = ("closed", "rejected", "stopped")


def incidents(central: Central) -> dict[str, dict[str, Any]]:
    rows = central.rows("SELECT id, type, status, flow_run_id, dedup_key FROM incident")
    return {r[0]: {"type": r[1], "status": r[2], "run": r[3], "key": r[4]} for r in rows}


def waiting_runs(central: Central, api: httpx.Client, count: int) -> dict[str, dict[str, Any]]:
    """Incident -> its run, once `count` incidents each have a labelled run paused at a gate."""
    found = {}
    for incident_id, incident in incidents(central).items():
        if incident["run"]:
            run = flow_run(api, incident["run"])
            if run["state_type"] == "PAUSED" and "irp.pid" in run["labels"]:
                found[incident_id] = run
    return found if len(found) == count else {}


def answer_gates(central: Central, api: httpx.Client) -> bool:
    """Approve every gate an open incident's current run waits at, as its first decider would
    in the Prefect UI; True once every incident has ended."""
    waits = central.rows(
        "SELECT incident_id, data FROM timeline_event WHERE kind IN ('gate_waiting',"
        " 'gate_reasked') ORDER BY id"
    )
    latest = {i: d if isinstance(d, dict) else json.loads(d) for i, d in waits}
    for incident_id, incident in incidents(central).items():
        wait = latest.get(incident_id)
        if incident["status"] in ENDED or wait is None or wait["flow_run_id"] != incident["run"]:
            continue
        if flow_run(api, incident["run"])["state_type"] != "PAUSED":
            continue
        answer = {"decision": "approve", "approver": wait["deciders"][0], "comment": "multi-host"}
        api.post(f"/flow_runs/{incident['run']}/resume", json={"run_input": answer})
    return all(i["status"] in ENDED for i in incidents(central).values())


def said_twice(central: Central) -> list[tuple[Any, ...]]:
    """Stage starts, gate questions and decisions recorded more than once (a re-entered run
    must not repeat them)."""
    once = central.rows(
        "SELECT incident_id, kind, stage, message FROM timeline_event"
        " WHERE kind IN ('stage_started', 'gate_waiting', 'gate_decision', 'stage_completed')"
    )
    counted: dict[tuple[Any, ...], int] = {}
    for row in once:
        counted[tuple(row)] = counted.get(tuple(row), 0) + 1
    return [key for key, n in counted.items() if n > 1]
