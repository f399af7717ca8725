"""Incident type -> its flow, built from one definition for every registered intake model.

Prefect deploys a flow by module path, so each type keeps a one-line module
(`flows/data_breach.py`: `data_breach = FLOWS[IncidentType.data_breach]`) that
`prefect.yaml` and the served deployments name as the entrypoint.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from prefect import Flow, flow

from flows.lifecycle import run_incident
from models.enums import IncidentType
from models.intake import INTAKE_MODELS, IncidentIntake


def incident_flow(incident_type: IncidentType) -> Flow[..., str]:
    """The flow `data-breach` (etc.): its parameters are `run_incident`'s, with `intake` typed as
    the type's intake model, so the run's parameters validate and its OpenAPI form shows that
    model's fields."""

    def respond(*args: Any, **kwargs: Any) -> str:
        return run_incident(incident_type, *args, **kwargs)

    signature = _flow_signature(INTAKE_MODELS[incident_type])
    respond.__signature__ = signature  # type: ignore[attr-defined]
    respond.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    respond.__annotations__["return"] = str
    respond.__name__ = respond.__qualname__ = incident_type.value
    respond.__module__ = f"flows.{incident_type.value}"  # the entrypoint Prefect imports
    what = incident_type.value.replace("_", " ")
    respond.__doc__ = (
        f"Respond to {'an' if what[0] in 'aeiou' else 'a'} {what}. "
        "Give a new `intake`, or the `incident_id` of an opened one."
    )
    return flow(
        name=incident_type.cli_name,
        log_prints=True,
        persist_result=True,
    )(respond)


def _flow_signature(intake_model: type[IncidentIntake]) -> inspect.Signature:
    """`run_incident`'s parameters after the incident type (which the flow stands for)."""
    signature = inspect.signature(run_incident, eval_str=True)
    intake, *options = list(signature.parameters.values())[1:]
    intake = intake.replace(annotation=intake_model | None)
    return signature.replace(parameters=[intake, *options], return_annotation=str)


class _Flows(Mapping[IncidentType, Flow[..., str]]):
    """Every registered type's flow, each built when first asked: a flow-run process imports
    one type's module, and building the other three (their parameter schemas) cost it
    ~0.15 s before Running."""

    def __init__(self) -> None:
        self._built: dict[IncidentType, Flow[..., str]] = {}

    def __getitem__(self, incident_type: IncidentType) -> Flow[..., str]:
        if incident_type not in INTAKE_MODELS:
            raise KeyError(incident_type)
        if incident_type not in self._built:
            self._built[incident_type] = incident_flow(incident_type)
        return self._built[incident_type]

    def __iter__(self) -> Iterator[IncidentType]:
        return iter(INTAKE_MODELS)

    def __len__(self) -> int:
        return len(INTAKE_MODELS)


FLOWS: Mapping[IncidentType, Flow[..., str]] = _Flows()
