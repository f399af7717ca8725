"""Incidents of a multi-host test as an operator sees them: irp's rows and Prefect's runs, and
what each incident waits for answered as the first person its Prefect UI form offers would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.hosts.central import Central, flow_run, host_env

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
    """Answer whatever each open incident's run waits for (a gate, manual tasks, report parts),
    as the first person its Prefect UI form offers would; True once every incident has ended."""
    for incident in incidents(central).values():
        if incident["status"] in ENDED or not incident["run"]:
            continue
        state = flow_run(api, incident["run"]).get("state") or {}
        if state.get("type") != "PAUSED":
            continue
        base = f"{(state.get('name') or '').lower()}-{state['state_details']['pause_key']}"
        schema = api.get(f"/flow_runs/{incident['run']}/input/{base}-schema")
        if schema.status_code != 200:
            continue  # the run has not saved its form yet: the next pass answers it
        value = schema.json()
        answer = first_choices(json.loads(value) if isinstance(value, str) else value)
        api.post(f"/flow_runs/{incident['run']}/resume", json={"run_input": answer})
    return all(i["status"] in ENDED for i in incidents(central).values())


def still_open(central: Central, api: httpx.Client) -> str:
    """What each incident that has not ended stands at: for a failure message."""
    lines = []
    for incident_id, incident in incidents(central).items():
        if incident["status"] in ENDED:
            continue
        last = central.rows(
            "SELECT kind, message FROM timeline_event WHERE incident_id = :id"
            " ORDER BY id DESC LIMIT 3",
            id=incident_id,
        )
        state = (flow_run(api, incident["run"]).get("state") or {}) if incident["run"] else {}
        details = state.get("state_details") or {}
        lines.append(
            f"{incident_id} {incident['type']} {incident['status']}: run {state.get('name')} "
            f"{details.get('pause_key')}; last {[tuple(r) for r in last]}"
        )
    return "\n".join(lines)


def preserve_evidence(central: Central, incident_id: str, home: Path) -> None:
    """A security engineer records the breach's evidence from a shell, as the plan requires
    before its cleanup (`irp evidence add`, against the central database)."""
    argv = [sys.executable, "-m", "irp.cli", "evidence", "add", incident_id]
    argv += ["--what", "export endpoint access logs", "--where", "evidence locker 1"]
    argv += ["--by", "security_engineer", "--sha256", "0" * 64]
    done = subprocess.run(
        argv, env=host_env(central, home), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


def first_choices(schema: dict[str, Any]) -> dict[str, Any]:
    """An answer to a form: each choice's default or first option, text where text is asked
    (a note, a part of the report), other defaults left alone."""
    answer: dict[str, Any] = {}
    for name, field in schema.get("properties", {}).items():
        options = field.get("enum")
        if options:
            answer[name] = field["default"] if field.get("default") in options else options[0]
        elif field.get("type") == "string":
            answer[name] = "multi-host"
        elif "default" not in field and name in schema.get("required", []):
            answer[name] = None
    return answer


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
