"""One child of the stack: its own session (so stopping it takes its descendants too), one log
file, and on Linux a parent-death signal, so that a SIGKILLed `irp up` strands nothing."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from irp.stack.errors import StackError

STOP_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessSpec:
    """How to start one child. `stop_signal` asks it to stop cleanly (PostgreSQL: SIGINT, its
    fast shutdown); the same signal reaches it if `irp up` dies. `title` names it in messages,
    `when_down` says what its absence means for the rest of the stack."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)  # holds the API's secret
    cwd: Path | None = None
    user: str | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    title: str = ""
    when_down: str = ""
    before_start: Callable[[], None] | None = None  # re-checked before every (re)start

    @property
    def label(self) -> str:
        return self.title or self.name


def _timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def log_line(path: Path, text: str) -> None:
    """Append one `--- irp: ... ---` line to a child's log (it may be writing there too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as log:
        log.write(f"--- irp: {text} at {_timestamp()} ---\n".encode())


def _die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec hook asking Linux to send `sig` to the child when this thread dies.

    Only from the main thread: the kernel watches the thread that forked, and a worker
    thread's end would otherwise stop a child its caller still uses.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return hook


def as_user(user: str | None) -> dict[str, Any]:
    """Popen arguments that run a child as `user` with that user's group only."""
    if user is None:
        return {}
    import pwd

    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(
    pgid: int,
    sig: signal.Signals,
    timeout_s: float = STOP_TIMEOUT_S,
    *,
    hurry: Callable[[], bool] = lambda: False,
) -> None:
    """Send `sig` to a process group whose leader is gone; SIGKILL it after `timeout_s` (at
    once when `hurry()` turns true)."""
    signal_group(pgid, sig)
    end = time.monotonic() + timeout_s
    while group_exists(pgid) and time.monotonic() < end and not hurry():
        time.sleep(0.05)
    signal_group(pgid, signal.SIGKILL)


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "is running"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


@dataclass
class Child:
    """A running (or exited) child and the log file it writes."""

    spec: ProcessSpec
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_offset: int
    started_at: float  # time.monotonic(), for durations
    started_wall: float  # time.time(), to compare with what other processes record
    _log: IO[bytes] = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def exit_text(self) -> str:
        return describe_exit(self.popen.poll())

    def stop(
        self, timeout_s: float = STOP_TIMEOUT_S, *, hurry: Callable[[], bool] = lambda: False
    ) -> int | None:
        """Ask the group to stop, SIGKILL it after `timeout_s` (at once when `hurry()` turns
        true); descendants still in the group are killed too. Safe to call twice."""
        if self.alive():
            signal_group(self.pid, self.spec.stop_signal)
            end = time.monotonic() + timeout_s
            while self.alive() and time.monotonic() < end and not hurry():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=0.1)
        signal_group(self.pid, signal.SIGKILL)
        self.popen.wait()
        self.close_log()
        return self.popen.returncode

    def close_log(self) -> None:
        self._log.close()


def spawn(spec: ProcessSpec, log_path: Path, note: str = "starting") -> Child:
    """Start `spec` in a new session, output appended to `log_path` after a header line."""
    if spec.before_start is not None:
        try:
            spec.before_start()
        except OSError as exc:
            raise StackError(f"could not prepare {spec.name}: {exc}") from exc
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    log.write(f"--- irp: {note} {spec.name} at {_timestamp()} ---\n".encode())
    log.flush()
    offset = log.tell()
    try:
        popen = subprocess.Popen(
            list(spec.argv),
            env=dict(spec.env),
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_user(spec.user),
            preexec_fn=_die_with_parent(spec.stop_signal),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.close()
        raise StackError(f"could not start {spec.name}: {exc}") from exc
    return Child(spec, popen, log_path, offset, time.monotonic(), time.time(), log)


def http_ok(url: str, timeout_s: float = 1.0) -> bool:
    """One GET: does `url` answer 200? (No proxy: the stack is on loopback.)"""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_http_ok(
    url: str,
    deadline_s: float,
    *,
    interval_s: float = 0.1,
    alive: Callable[[], bool] | None = None,
) -> bool:
    """Poll `url` until it answers 200 (True), the deadline passes or `alive()` is False (False)."""
    end = time.monotonic() + deadline_s
    while True:
        if http_ok(url, max(0.2, min(2.0, end - time.monotonic()))):
            return True
        if alive is not None and not alive():
            return False
        if time.monotonic() >= end:
            return False
        time.sleep(interval_s)


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def check_port_free(host: str, port: int, setting: str = "IRP_PREFECT_PORT") -> None:
    """Fail early and clearly when something already listens where a child should."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                reason = exc.strerror or str(exc)
            elif http_ok(f"http://{url_host(host)}:{port}/api/health", 0.5):
                reason = "a Prefect server already answers there"
            else:
                reason = "another program listens there"
            raise StackError(
                f"port {port} on {host} is already in use: {reason} "
                f"(set {setting} / stop the other server)"
            ) from None


def tail(path: Path, lines: int = 20, offset: int = 0) -> str:
    """The last lines of a log file written after `offset`, for error messages."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return f"last lines of {path}:\n" + "\n".join(text.splitlines()[-lines:])
