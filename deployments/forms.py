"""The Prefect UI's custom-run form of an incident deployment: what a reporter fills in.

A flow's generated form shows every parameter: the intake behind an optional toggle (its type
is `Intake | None`, for runs that continue an incident opened from an alert) and the drill
knobs (faults, shortfall, plan_file, notify_url...). The incident deployments show only the
intake, its fields at once and the required ones marked. Parameters a form does not show are
still accepted from the API: alert dispatch passes `incident_id` alone. Drill deployments keep the
flow's whole form, knobs included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prefect.utilities.callables import ParameterSchema

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

INTAKE_DESCRIPTION = (
    "What the reporter states (PLAN 4.1); a new incident needs at least the summary and the "
    "reporter. The plan grades it and asks the leadership group to activate the response."
)


REPORT_DESCRIPTION = (
    "Report an incident (PLAN 4.1): a title, who you are, what happened, and its type if you "
    "know it (unknown: the commander chooses it at the triage gate)."
)


def intake_form(
    schema: ParameterSchema, field: str = "intake", description: str = INTAKE_DESCRIPTION
) -> ParameterSchema:
    """The flow's parameter schema cut down to the intake, its required fields marked.

    The intake is not required at the root: the server checks every run against this schema,
    and a run by `incident_id` alone (alert dispatch) has none. An intake given is checked
    whole, so the form cannot start a run without a summary and a reporter."""
    intake: dict[str, Any] = dict(schema.properties[field])
    options = intake.pop("anyOf", [])
    intake.update(next((o for o in options if "$ref" in o), {}))
    intake.pop("default", None)
    intake |= {"title": field.capitalize(), "description": description, "position": 0}
    return ParameterSchema(
        title=schema.title,
        type=schema.type,
        properties={field: intake},
        definitions={name: _in_order(d) for name, d in schema.definitions.items()},
    )


def _in_order(definition: dict[str, Any]) -> dict[str, Any]:
    """The UI orders fields by `position`: the model's order (summary and reporter first).
    An optional fact (`X | None`) shows as its input, not a toggle: left empty, it is left out."""
    fields = definition.get("properties", {})
    ordered = {
        key: {**_not_null(spec), "position": i} for i, (key, spec) in enumerate(fields.items())
    }
    return {**definition, "properties": ordered} if fields else definition


def _not_null(spec: dict[str, Any]) -> dict[str, Any]:
    options = spec.get("anyOf", [])
    kept = [o for o in options if o.get("type") != "null"]
    if len(options) != 2 or len(kept) != 1 or spec.get("default") is not None:
        return spec
    flat = {k: v for k, v in spec.items() if k not in ("anyOf", "default")}
    return {**flat, **kept[0]}


def with_intake_form(deployment: RunnerDeployment, field: str = "intake") -> RunnerDeployment:
    """An incident deployment with the reporter's form (Prefect's own `prefect deploy` sets
    the schema the same way: the attribute has no public setter)."""
    description = REPORT_DESCRIPTION if field == "report" else INTAKE_DESCRIPTION
    schema = intake_form(deployment._parameter_openapi_schema, field, description)
    deployment._parameter_openapi_schema = schema
    return deployment
