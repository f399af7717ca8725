"""Honest records (issue 11): a real incident's `simulate` step is recorded as simulated, never
done; containment is complete only when its steps really ran; `irp plan validate` refuses a
plan whose real incidents would simulate, unless the plan says so."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import get_engine, session_scope
from irp.incidents import timeline
from irp.reporting import metrics
from irp.response import actions
from irp.settings import get_settings
from models import Incident
from models.enums import ActionStatus, IncidentType
from tests.factories import fast_retries, make_intake, plan_data, write_plan
from tests.notify.receiver import Receiver


def _run(plan: Path, *, drill: bool) -> str:
    return FLOWS[IncidentType.system_failure](
        intake=make_intake(IncidentType.system_failure),
        drill=drill,
        auto_approve=True,
        plan_file=str(plan),
    )


def _events(incident_id: str) -> list[tuple[str, str]]:
    with session_scope() as session:
        return [(e.kind, e.message) for e in timeline.events(session, incident_id)]


def _report(incident_id: str) -> str:
    return (get_settings().reports_dir / incident_id / "report.md").read_text(encoding="utf-8")


@pytest.mark.usefixtures("prefect_api")
def test_a_real_incident_records_simulate_steps_as_simulated_never_done(tmp_path: Path) -> None:
    incident_id = _run(write_plan(tmp_path, fast_retries(plan_data())), drill=False)

    with session_scope() as session:
        runs = actions.runs(session, incident_id)
        incident = session.get(Incident, incident_id)
        assert incident is not None
        contained_at, activated_at = incident.contained_at, incident.activated_at
    assert runs and {r.status for r in runs} == {ActionStatus.simulated}
    events = _events(incident_id)
    kinds = [k for k, _ in events]
    assert "action_succeeded" not in kinds and "contained" not in kinds
    simulated = [m for k, m in events if k == "action_simulated"]
    assert len(simulated) == len([r for r in runs if r.executor != "manual"])
    # work for people that the policy answered (auto_approve) is not work done either
    answered = [m for k, m in events if k == "task_answered"]
    assert answered and all("drill-policy" in m for m in answered)
    assert all("simulated, not done (attempt 1)" in m for m in simulated)
    unconfirmed = [m for k, m in events if k == "containment_unconfirmed"]
    assert len(unconfirmed) == 1
    containment = [r.title for r in runs if r.containment]
    assert all(f"{title} (only simulated)" in unconfirmed[0] for title in containment)
    assert contained_at is None and activated_at is not None

    report = _report(incident_id)
    assert "Containment complete" not in report and ": done (attempt" not in report
    measures = report.split("## 2. Measures taken", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in measures.splitlines() if any(r.action in line for r in runs)]
    assert rows and all("simulated" in row and "succeeded" not in row for row in rows)

    figures = metrics.collect(get_engine()).to_dict()["by"]
    overall = next(row for row in figures if row["dimension"] == "all")
    assert overall["incidents"] == 1
    assert overall["acknowledge_median_min"] is not None
    assert overall["contain_median_min"] is None  # nothing was contained for real


@pytest.mark.usefixtures("prefect_api")
def test_a_drill_whose_containment_was_held_back_does_not_say_contained(tmp_path: Path) -> None:
    marker = tmp_path / "failed-over"
    data = fast_retries(plan_data())
    with Receiver() as firewall:
        for action in data["incident_types"]["system_failure"]["playbook"]:
            if action.get("containment"):
                action.update(
                    executor="command",
                    params={"argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]},
                    undo={"executor": "http", "params": {"url": firewall.url("http", "/undo")}},
                )
        incident_id = _run(write_plan(tmp_path, data), drill=True)
        assert firewall.requests == []
    assert not marker.exists()

    events = _events(incident_id)
    assert "contained" not in [k for k, _ in events]
    unconfirmed = [m for k, m in events if k == "containment_unconfirmed"]
    assert len(unconfirmed) == 1 and "(held back by the drill)" in unconfirmed[0]
    with session_scope() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.contained_at is None
    assert "Containment not confirmed" in _report(incident_id)


def _unmarked(data: dict[str, Any]) -> dict[str, Any]:
    data.pop("simulate_in_real_incidents")
    return data


@pytest.mark.no_database
def test_validate_refuses_simulate_steps_real_incidents_would_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _unmarked(plan_data())
    playbook = data["incident_types"]["system_failure"]["playbook"]
    path = write_plan(tmp_path, data)

    assert main(["plan", "validate", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    base = "incident_types.system_failure.playbook"
    first = f"{base}.0.executor: a real incident would only simulate this step"
    assert any(f"{path}:" in line and first in line for line in lines)
    undone = [i for i, a in enumerate(playbook) if a.get("undo", {}).get("executor") == "simulate"]
    assert any(f"{base}.{undone[0]}.undo.executor:" in line for line in lines)

    for action in data["incident_types"]["system_failure"]["playbook"]:
        action["simulate_in_real_incidents"] = True
    assert main(["plan", "validate", str(write_plan(tmp_path, data))]) == 2
    assert base not in capsys.readouterr().err  # the marked type is accepted, the others not

    assert main(["plan", "validate", str(write_plan(tmp_path, plan_data()))]) == 0
