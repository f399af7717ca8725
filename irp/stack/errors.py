"""What starting or running the local stack can raise."""

from __future__ import annotations

from irp.errors import IrpError


class StackError(IrpError):
    """The local stack could not start; the message says what to do."""


class StopRequested(Exception):
    """A signal (SIGINT, SIGTERM, SIGHUP) asked the stack to stop while it was starting."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
