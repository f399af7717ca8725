"""PLAN 2.3 system failure: diagnose, fail over, verify backups, restore service."""

from flows.registry import FLOWS
from models.enums import IncidentType

system_failure = FLOWS[IncidentType.system_failure]
