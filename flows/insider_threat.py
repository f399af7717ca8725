"""PLAN 2.4 insider threat: suspend access, preserve evidence, assess, legal and HR review."""

from flows.registry import FLOWS
from models.enums import IncidentType

insider_threat = FLOWS[IncidentType.insider_threat]
