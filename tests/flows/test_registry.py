"""One registry of incident types: every type has a report model, and the flows, their
module-path entrypoints, the served deployments and the CLI's choices all come from it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from deployments.serve import incident_deployments
from flows.registry import FLOWS
from irp.cli.drills import INCIDENT_TYPES
from irp.cli.main import main
from models.enums import IncidentType
from models.intake import INTAKE_MODELS

pytestmark = pytest.mark.no_database

PREFECT_YAML = Path(__file__).parents[2] / "prefect.yaml"


def test_every_incident_type_has_a_report_model_and_a_flow() -> None:
    responded = [t for t in IncidentType if t is not IncidentType.unknown]  # triage picks one
    assert list(INTAKE_MODELS) == responded
    assert list(FLOWS) == responded
    for itype, flow in FLOWS.items():
        assert INTAKE_MODELS[itype].incident_type == itype
        assert flow.name == itype.cli_name
        intake = flow.parameters.properties["intake"]
        assert INTAKE_MODELS[itype].__name__ in str(intake)  # the type's own form


@pytest.mark.parametrize("itype", list(INTAKE_MODELS), ids=lambda t: t.cli_name)
def test_each_flow_is_importable_by_its_module_path(itype: IncidentType) -> None:
    module = importlib.import_module(f"flows.{itype.value}")
    assert getattr(module, itype.value) is FLOWS[itype]
    assert FLOWS[itype].fn.__module__ == module.__name__


def test_prefect_yaml_deploys_every_registered_type() -> None:
    deployments = yaml.safe_load(PREFECT_YAML.read_text())["deployments"]
    incident = [d["entrypoint"] for d in deployments if d["name"] == "irp"]
    assert incident[: len(INTAKE_MODELS)] == [f"flows.{t.value}.{t.value}" for t in INTAKE_MODELS]


def test_served_deployments_are_the_registry() -> None:
    served = {(d.flow_name, d.name, d.entrypoint) for d in incident_deployments()}
    types = {(t.cli_name, "irp", f"flows.{t.value}.{t.value}") for t in INTAKE_MODELS}
    report = ("report-incident", "irp", "flows.report_incident.report_incident")
    assert served == types | {report}  # and the short form, for any type or none


def test_cli_offers_the_registered_types(capsys: pytest.CaptureFixture[str]) -> None:
    assert [t.cli_name for t in INTAKE_MODELS] == INCIDENT_TYPES
    assert main(["drill", "phishing"]) == 2
    err = capsys.readouterr().err
    assert "TYPE: 'phishing' is not one of" in err
    assert all(t.cli_name in err for t in INTAKE_MODELS)


@pytest.mark.parametrize("itype", list(INTAKE_MODELS), ids=lambda t: t.cli_name)
def test_a_cli_drill_can_file_every_type(itype: IncidentType) -> None:
    """`irp drill TYPE` knows only a summary and a reporter: the model's drill_facts fill in
    whatever else it requires."""
    model = INTAKE_MODELS[itype]
    intake = model.model_validate({"summary": "Drill", "reporter": "cli", **model.drill_facts})
    assert intake.summary == "Drill"
