"""SQLModel tables and the typed plan schema. Importing this registers every table."""

from models.action import ActionRun
from models.alert import Alert
from models.alert_group import OpenIncidentGroup
from models.alert_replay import SeenWebhookMessage
from models.clock import ClockReminder, RegulatoryClock
from models.drill_score import DrillScore
from models.evidence import Evidence
from models.gate import GateDecision
from models.incident import Incident, IncidentPublic
from models.manual_task import ManualTask
from models.notification import Notification
from models.one_time_code import OneTimeCode
from models.report_part import ReportPart
from models.resource import ResourceAllocation
from models.timeline import TimelineEvent

__all__ = [
    "ActionRun",
    "Alert",
    "OpenIncidentGroup",
    "ClockReminder",
    "RegulatoryClock",
    "DrillScore",
    "Evidence",
    "GateDecision",
    "Incident",
    "IncidentPublic",
    "ManualTask",
    "Notification",
    "OneTimeCode",
    "ReportPart",
    "ResourceAllocation",
    "SeenWebhookMessage",
    "TimelineEvent",
]
