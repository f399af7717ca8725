"""Incident type -> its flow, for the CLI, drills and dispatch."""

from __future__ import annotations

from prefect import Flow

from flows.data_breach import data_breach
from flows.insider_threat import insider_threat
from flows.network_attack import network_attack
from flows.system_failure import system_failure
from models.enums import IncidentType
from models.report import (
    DataBreachReport,
    IncidentReport,
    InsiderThreatReport,
    NetworkAttackReport,
    SystemFailureReport,
)

FLOWS: dict[IncidentType, Flow[..., str]] = {
    IncidentType.data_breach: data_breach,
    IncidentType.network_attack: network_attack,
    IncidentType.system_failure: system_failure,
    IncidentType.insider_threat: insider_threat,
}

REPORTS: dict[IncidentType, type[IncidentReport]] = {
    IncidentType.data_breach: DataBreachReport,
    IncidentType.network_attack: NetworkAttackReport,
    IncidentType.system_failure: SystemFailureReport,
    IncidentType.insider_threat: InsiderThreatReport,
}
