"""Facts about other processes from /proc (Linux), to tell our leftovers from strangers.

A pid alone proves nothing (pids are reused); a pid plus its start time, its working
directory or a marker in its environment does. Elsewhere every lookup answers "unknown".
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


def start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may contain spaces
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return int(fields[19])


def alive(pid: int) -> bool:
    """Running and not a zombie (a zombie holds no port and no file)."""
    if PROC.is_dir():
        return start_ticks(pid) is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(PROC / str(pid) / "cwd"))
    except OSError:
        return None


def with_environment(variable: str, value: str) -> list[int]:
    """Every process (but this one) started with `variable=value` in its environment."""
    marker = f"{variable}={value}".encode()
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(PROC):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (PROC / entry.name / "environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                found.append(int(entry.name))
    return found


def end(pids: Iterable[int], sig: signal.Signals, timeout_s: float) -> list[int]:
    """Send `sig`, then SIGKILL whatever still runs after `timeout_s`; return the pids that
    had to be killed."""
    pids = [pid for pid in pids if alive(pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = [pid for pid in pids if alive(pid)]
    for pid in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while any(alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed
