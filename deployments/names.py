"""Deployment names: one deployment per incident type, `<flow-name>/irp`; an incident reported
without a type is started on `report-incident/irp`, where triage chooses it."""

from __future__ import annotations

from models.enums import IncidentType
from models.intake import REPORT_FLOW

DEPLOYMENT = "irp"


def flow_name(incident_type: IncidentType) -> str:
    return REPORT_FLOW if incident_type is IncidentType.unknown else incident_type.cli_name


def deployment_name(incident_type: IncidentType) -> str:
    """What `run_deployment` takes, e.g. `data-breach/irp`."""
    return f"{flow_name(incident_type)}/{DEPLOYMENT}"
