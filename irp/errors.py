"""Domain errors. The CLI maps them to exit codes; HTTP maps them to 4xx."""

from __future__ import annotations


class IrpError(Exception):
    """Base for every error irp raises on purpose."""


class InvalidInput(IrpError):
    """Bad input from a person or a file: exit code 2, HTTP 4xx."""


class PlanError(InvalidInput):
    """The plan file is invalid; `messages` are `file:line: field: reason` lines."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


class NotFound(IrpError):
    """A referenced incident, gate or record does not exist."""


class GateRefused(InvalidInput):
    """A decision by someone the plan does not allow to decide this gate."""


class ActionFailed(IrpError):
    """An executor reported failure; retried by the task policy."""


class ReportNotWritten(IrpError):
    """A report's files could not be written (no space, no permission, a file where a folder
    should be): exit 1; the incident keeps waiting for its report."""


class TaskRefused(InvalidInput):
    """An answer to a manual task the plan does not admit (wrong role, answered already,
    missing note or evidence): exit 2, and the task stays as it was."""
