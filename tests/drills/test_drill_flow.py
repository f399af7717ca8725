"""A drill with every kind of injected fault, through the real flow on a real Prefect server."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import session_scope
from irp.settings import get_settings
from models import DrillScore, Incident
from models.enums import IncidentStatus, IncidentType
from tests.factories import automatic_evidence_step, fast_retries, plan_data, write_plan

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


def _plan_with_faults(folder: Path) -> Path:
    data = fast_retries(plan_data())
    automatic_evidence_step(data)  # faults are injected into automatic steps
    data["drills"]["scenarios"] = {
        "breach-all-faults": {
            "title": "Export endpoint leak, everything goes wrong",
            "incident_type": "data_breach",
            "report": {"records_affected": 1200, "data_categories": ["email"]},
            "faults": {"preserve_evidence": 2},
            "unanswered_gates": ["user_notice"],
            "gate_timeout_s": 1,
            "shortfall": {"oncall_engineers": 7},
        }
    }
    return write_plan(folder, data)


def test_injected_faults_show_up_as_gaps_in_the_scorecard_and_drill_record(tmp_path: Path) -> None:
    from deployments.drills import drill_parameters
    from irp.plan.loader import get_plan

    plan_file = str(_plan_with_faults(tmp_path))
    plan = get_plan(plan_file)
    params = drill_parameters(
        "breach-all-faults", plan.drills.scenarios["breach-all-faults"], plan_file
    )
    incident_id = FLOWS[IncidentType.data_breach](**params)

    folder = get_settings().reports_dir / incident_id
    with (folder / "scorecard.csv").open(encoding="utf-8") as handle:
        rows = {(r["kind"], r["name"]): r for r in csv.DictReader(handle)}
    assert rows[("gate", "activation")]["result"] == "met"
    notice = rows[("gate", "user_notice")]
    assert notice["result"] == "missed" and "timed out" in notice["note"]
    assert {("stage", s) for s in ("command", "response", "logistics", "cleanup")} <= set(rows)

    record = (folder / "drill-record.md").read_text(encoding="utf-8")
    assert "Action 'preserve_evidence' needed 3 attempts" in record
    assert "Gate 'user_notice' round 1 timed out (escalate)" in record
    assert "Gate 'user_notice' round 2 timed out (stop)" in record
    assert "Resource shortfall: 1 x oncall_engineers" in record
    assert "breach-all-faults" in record and "## Follow-ups" in record
    assert "drill-policy (" not in record  # the policy is no person; the reporter is
    assert (folder / "drill-record.html").read_text(encoding="utf-8").startswith("<!doctype")

    with session_scope() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.status == IncidentStatus.closed
        assert incident.options["scenario"] == "breach-all-faults"
        from sqlmodel import select

        scores = list(session.exec(select(DrillScore).where(DrillScore.incident_id == incident_id)))
    gaps = [s for s in scores if s.kind == "gap"]
    assert len(gaps) == 4 and all(s.scenario == "breach-all-faults" for s in scores)


def test_an_unknown_scenario_is_refused_naming_the_field(tmp_path: Path) -> None:
    from irp.errors import InvalidInput
    from tests.factories import make_intake

    with pytest.raises(InvalidInput, match="scenario: 'nope'"):
        FLOWS[IncidentType.system_failure](
            intake=make_intake(IncidentType.system_failure), drill=True, scenario="nope"
        )


def test_drills_audit_lists_the_drill_and_flags_undrilled_types(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.factories import make_intake

    FLOWS[IncidentType.system_failure](
        intake=make_intake(IncidentType.system_failure), drill=True, auto_approve=True
    )
    capsys.readouterr()
    assert main(["drills", "audit", "--check"]) == 1
    out = capsys.readouterr().out
    assert "system_failure" in out and "ad-hoc" in out and "1/" not in out.split("Coverage")[1]
    coverage = out.split("Coverage per incident type", 1)[1]
    lines = {line.split()[0]: line for line in coverage.strip().splitlines()[1:]}
    assert lines["system_failure"].rstrip().endswith("ok")
    assert "NOT DRILLED" in lines["data_breach"]


def test_cli_drill_runs_a_plan_scenario_and_refuses_one_of_another_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = str(_plan_with_faults(tmp_path))
    drill = ["drill", "data-breach", "--plan", plan_file, "--auto-approve"]

    assert main([*drill, "--scenario", "breach-all-faults"]) == 0
    incident_id = capsys.readouterr().out.split("incident: ")[1].split()[0]
    with session_scope() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.options["scenario"] == "breach-all-faults"
        assert incident.facts["records_affected"] == 1200  # the scenario's facts, not defaults
    evidence = (get_settings().reports_dir / incident_id / "drill-record.md").read_text()
    assert "Resource shortfall: 1 x oncall_engineers" in evidence

    other = ["drill", "system-failure", "--plan", plan_file, "--scenario", "breach-all-faults"]
    assert main(other) == 2
    assert "--scenario: 'breach-all-faults' drills data-breach" in capsys.readouterr().err
