"""PLAN 2.1 data breach: close the hole, scope the leak, notify users, legal review."""

from flows.registry import FLOWS
from models.enums import IncidentType

data_breach = FLOWS[IncidentType.data_breach]
