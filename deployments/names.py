"""Deployment names: one deployment per incident type, `<flow-name>/irp`."""

from __future__ import annotations

from models.enums import IncidentType

DEPLOYMENT = "irp"


def flow_name(incident_type: IncidentType) -> str:
    return incident_type.cli_name


def deployment_name(incident_type: IncidentType) -> str:
    """What `run_deployment` takes, e.g. `data-breach/irp`."""
    return f"{flow_name(incident_type)}/{DEPLOYMENT}"
