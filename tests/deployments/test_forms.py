"""The custom-run forms as the Prefect server holds them: incident deployments ask for the
intake (required, no toggle, no internal knobs); drill deployments keep their knobs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from deployments.drills import scheduled_drill_deployments
from deployments.serve import incident_deployments
from irp.plan.loader import get_plan
from models.enums import IncidentType
from models.intake import INTAKE_MODELS

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.no_database]

KNOBS = {
    "faults",
    "shortfall",
    "plan_file",
    "notify_url",
    "auto_approve",
    "drill",
    "scenario",
    "with_people",
}


@pytest.fixture(scope="module")
def registered(prefect_api: str) -> dict[str, UUID]:
    """The deployments `irp up` serves, registered on the server; name -> id."""
    deployments = incident_deployments() + scheduled_drill_deployments(get_plan())
    return {f"{d.flow_name}/{d.name}": d.apply() for d in deployments}


def schema_of(api: str, deployment_id: UUID) -> dict[str, Any]:
    response = httpx.get(f"{api}/deployments/{deployment_id}", timeout=10)
    response.raise_for_status()
    schema: dict[str, Any] = response.json()["parameter_openapi_schema"]
    return schema


@pytest.mark.parametrize("itype", list(INTAKE_MODELS), ids=lambda t: t.cli_name)
def test_incident_deployments_ask_for_the_intake_and_nothing_else(
    prefect_api: str, registered: dict[str, UUID], itype: IncidentType
) -> None:
    schema = schema_of(prefect_api, registered[f"{itype.cli_name}/irp"])
    assert list(schema["properties"]) == ["intake"]
    intake = schema["properties"]["intake"]
    assert "anyOf" not in intake and "default" not in intake  # no "None" toggle to open first
    model = intake["$ref"].rsplit("/", 1)[1]
    fields = schema["definitions"][model]
    assert {"summary", "reporter"} <= set(fields["required"])
    assert {"description", "occurred_at", "detected_at", "people_affected"} <= set(
        fields["properties"]
    )
    if itype == IncidentType.insider_threat:
        assert "account" in fields["required"]
    properties = fields["properties"]
    assert properties["occurred_at"]["format"] == "date-time"  # an input, not a None toggle
    assert "anyOf" not in properties["occurred_at"]
    first = sorted(properties, key=lambda key: properties[key]["position"])[:2]
    assert first == ["summary", "reporter"]


def test_drill_deployments_keep_their_knobs(prefect_api: str, registered: dict[str, UUID]) -> None:
    drills = [name for name in registered if "/drill-" in name]
    assert drills
    for name in drills:
        assert set(schema_of(prefect_api, registered[name])["properties"]) >= KNOBS, name


def create_run(api: str, deployment_id: UUID, parameters: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{api}/deployments/{deployment_id}/create_flow_run",
        json={"parameters": parameters, "state": {"type": "SCHEDULED"}},
        timeout=10,
    )


def test_the_server_refuses_an_intake_without_its_required_fields(
    prefect_api: str, registered: dict[str, UUID]
) -> None:
    deployment_id = registered["data-breach/irp"]
    refused = create_run(prefect_api, deployment_id, {"intake": {"summary": "Orders leaked"}})
    assert refused.status_code == 409 and "reporter" in refused.text
    accepted = create_run(
        prefect_api, deployment_id, {"intake": {"summary": "Orders leaked", "reporter": "SOC"}}
    )
    assert accepted.status_code == 201, accepted.text


def test_alert_dispatch_still_starts_a_run_by_incident_id(
    prefect_api: str, registered: dict[str, UUID]
) -> None:
    """deployments/dispatch.py passes only `incident_id`: the form is not the API."""
    response = create_run(prefect_api, registered["system-failure/irp"], {"incident_id": "INC-1"})
    assert response.status_code == 201, response.text
    assert response.json()["parameters"] == {"incident_id": "INC-1"}
