"""Incident type -> its flow, built from one definition for every registered intake model.

Prefect deploys a flow by module path, so each type keeps a one-line module
(`flows/data_breach.py`: `data_breach = FLOWS[IncidentType.data_breach]`) that
`prefect.yaml` and the served deployments name as the entrypoint.
"""

from __future__ import annotations

from typing import get_type_hints

from prefect import Flow, flow

from flows.lifecycle import run_incident
from flows.run_names import flow_run_name
from models.enums import IncidentType
from models.intake import INTAKE_MODELS, IncidentIntake


def incident_flow(incident_type: IncidentType) -> Flow[..., str]:
    """The flow `data-breach` (etc.): its `intake` parameter is the type's intake model, so the
    run's parameters validate and its OpenAPI form shows that model's fields."""
    intake_model = INTAKE_MODELS[incident_type]

    def respond(
        intake: IncidentIntake | None = None,
        incident_id: str | None = None,
        drill: bool = False,
        auto_approve: bool = False,
        plan_file: str | None = None,
        faults: dict[str, int] | None = None,
        notify_url: str | None = None,
        scenario: str | None = None,
        shortfall: dict[str, int] | None = None,
    ) -> str:
        return run_incident(
            incident_type,
            intake,
            incident_id=incident_id,
            drill=drill,
            auto_approve=auto_approve,
            plan_file=plan_file,
            faults=faults,
            notify_url=notify_url,
            scenario=scenario,
            shortfall=shortfall,
        )

    respond.__annotations__ = get_type_hints(respond) | {"intake": intake_model | None}
    respond.__name__ = respond.__qualname__ = incident_type.value
    respond.__module__ = f"flows.{incident_type.value}"  # the entrypoint Prefect imports
    what = incident_type.value.replace("_", " ")
    respond.__doc__ = (
        f"Respond to {'an' if what[0] in 'aeiou' else 'a'} {what}. "
        "Give a new `intake`, or the `incident_id` of an opened one."
    )
    return flow(
        name=incident_type.cli_name,
        flow_run_name=flow_run_name,
        log_prints=True,
        persist_result=True,
    )(respond)


FLOWS: dict[IncidentType, Flow[..., str]] = {t: incident_flow(t) for t in IncidentType}
