"""PLAN 2.2 network attack (ddos, malware, intrusion): block, isolate, analyse, restore."""

from flows.registry import FLOWS
from models.enums import IncidentType

network_attack = FLOWS[IncidentType.network_attack]
