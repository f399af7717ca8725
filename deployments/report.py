"""`irp incidents open`: record a reported incident, then start its run without waiting for it.

The run gets the incident id only: what the reporter stated stays in irp's database (masked
where it leaves), never in Prefect's stored run parameters. A known type starts on its own
deployment (`data-breach/irp`...), an unknown one on `report-incident/irp`, which asks the
commander at the triage gate. The incident is opened as pending_dispatch, as an alert's is, so
a run that could not be started is started by the stack's dispatcher once Prefect answers.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from deployments.dispatch import dispatch_one, start_deployment
from irp.db import session_scope
from irp.errors import InvalidInput, IrpError
from irp.incidents import service as incidents
from models.enums import IncidentStatus, IncidentType
from models.intake import INTAKE_MODELS, IncidentIntake

OPTION_OF = {"summary": "--title", "reporter": "--reporter", "description": "--summary"}


def reported_intake(
    incident_type: IncidentType, stated: dict[str, Any], facts: list[str]
) -> IncidentIntake:
    """The type's intake (the shared one when unknown) from the options and `--fact KEY=VALUE`
    (a JSON value, or text); a bad value names its option."""
    fields = {k: v for k, v in stated.items() if v is not None}
    for fact in facts:
        key, eq, value = fact.partition("=")
        if not eq or not key.strip():
            raise InvalidInput(f"--fact: {fact!r} is not KEY=VALUE")
        fields[key.strip()] = _value(value)
    model = INTAKE_MODELS.get(incident_type, IncidentIntake)
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        option = OPTION_OF.get(field) or (f"--{field.replace('_', '-')}" if field in stated else "")
        name = option or f"--fact {field}"
        raise InvalidInput(f"{name}: {error['msg'].removeprefix('Value error, ')}") from exc


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def open_and_start(incident_type: IncidentType, intake: IncidentIntake) -> tuple[str, str]:
    """Record the incident, then create its flow run; return both ids. IrpError (the incident
    stays, pending dispatch) when the run cannot be created."""
    with session_scope() as session:
        incident = incidents.open_incident(
            session, incident_type, intake, status=IncidentStatus.pending_dispatch
        )
        incident_id = incident.id
    try:
        dispatch_one(incident_id, start_deployment)
    except Exception as exc:  # noqa: BLE001  (any reason: the incident is on record either way)
        raise IrpError(
            f"{incident_id} is recorded, but its run could not be started ({exc}); it waits as "
            "pending_dispatch, and the stack's dispatcher starts it once Prefect answers"
        ) from exc
    with session_scope() as session:
        run_id = incidents.get_incident(session, incident_id).flow_run_id
    return incident_id, str(run_id)
