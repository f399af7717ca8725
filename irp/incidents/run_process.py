"""Which process drives a flow run, told through the run's labels, so that the host it ran on
sees at once that the process is gone instead of waiting for Prefect's heartbeat window.

A run labels itself (host, boot, pid, the pid's start time, when) as it starts and at each
stage. The recovery watch on the same host then knows a Running run, or one paused in its
process, is dead when that exact process no longer exists. Labels from an older process (a run
resumed from suspension, not yet labelled by its new process) are not trusted: the run is left
to the heartbeat automation. No Prefect here: plain data in, plain answers out.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from pathlib import Path

HOST, BOOT, PID, PID_START, LABELLED_AT = (
    "irp.host",
    "irp.boot",
    "irp.pid",
    "irp.pid_start",
    "irp.labelled_at",
)
IN_PROCESS_PAUSE = "Paused"
"""Prefect's name for a pause that keeps its process (a suspension is named Suspended)."""


def labels_for_this_process(now: datetime | None = None) -> dict[str, bool | int | float | str]:
    pid = os.getpid()
    return {
        HOST: socket.gethostname(),
        BOOT: _boot_id(),
        PID: str(pid),
        PID_START: _start_ticks(pid) or "",
        LABELLED_AT: (now or datetime.now(UTC)).isoformat(),
    }


def process_gone(
    labels: dict[str, object], state_type: str, state_name: str, state_since: datetime | None
) -> bool:
    """True only when certain: the run's labelled process ran on this host since its last boot,
    the labels speak for the process in the run's current state, and that process is gone."""
    boot = _boot_id()
    if not boot or labels.get(HOST) != socket.gethostname() or labels.get(BOOT) != boot:
        return False  # another host, an earlier boot, or no /proc to ask
    try:
        labelled_at = datetime.fromisoformat(str(labels[LABELLED_AT]))
        pid = int(str(labels[PID]))
    except (KeyError, ValueError):
        return False
    if state_since is None:
        return False
    if state_type == "RUNNING":
        current = labelled_at >= state_since  # labelled by the process that runs it now
    elif state_type == "PAUSED" and state_name == IN_PROCESS_PAUSE:
        current = labelled_at <= state_since  # the last labelled process paused it
    else:
        return False
    if not current:
        return False
    started, expected = _start_ticks(pid), str(labels.get(PID_START) or "")
    return started is None or (bool(expected) and started != expected)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (None: no such live process); with
    the pid it names one process, even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]
