"""Helpers for tests of real processes: free ports, waiting with a deadline, what is left."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from irp.prefect_auth import basic_auth_header, read_auth_file

T = TypeVar("T")


@contextmanager
def stack_home() -> Iterator[Path]:
    """A home for a stack outside pytest's temporary root. Run as root, the embedded
    PostgreSQL runs as its own user, which must traverse every folder above its data; every
    pytest session (another one on the same machine too) resets that root to mode 0700."""
    base = Path(tempfile.mkdtemp(prefix="irp-stack-test-"))
    try:
        yield base / "home"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (a connection is refused)."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def until(check: Callable[[], T], deadline_s: float, what: str, every_s: float = 0.2) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s:.0f} s: {what}")
        time.sleep(every_s)


def gone(pid: int, deadline_s: float = 30.0) -> bool:
    """Block until `pid` has exited (pidfd readable), at most `deadline_s`."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], deadline_s)
        return bool(readable)
    finally:
        os.close(fd)


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def in_group(pgid: int) -> list[int]:
    """Live processes of process group `pgid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


def carrying(stack_id: str) -> list[int]:
    """Processes whose environment carries this stack id (what a stack leaves behind)."""
    marker = f"IRP_STACK_ID={stack_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if running(pid)]


def postgres_on(data_dir: Path) -> list[int]:
    """PostgreSQL processes working in `data_dir` (the postmaster's children overwrite their
    environment with their ps titles, so the stack id cannot find them; their working
    directory can)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == data_dir:
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if running(pid)]


NO_CODES = {"IRP_GATE_CODES": "false"}
"""Gates answered by role, as the suite does (tests/conftest.py); tests/identity proves people."""


@contextmanager
def irp_up(
    home: Path, env: dict[str, str], deadline_s: float
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """`irp up` started as `make up` starts it, in its own process group, with only `env` of
    irp's and Prefect's settings; yields it and its stack file once up, stops it after."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IRP_", "PREFECT_")) or key == "PREFECT_SERVER_ANALYTICS_ENABLED"
    }
    irp = Path(sys.executable).parent / "irp"
    with (home / "up.log").open("wb") as log:
        process = subprocess.Popen(
            [str(irp), "up"],
            env={**clean, "IRP_HOME": str(home), **NO_CODES, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, until(lambda: _stack_info(home, process), deadline_s, "the stack file")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def _stack_info(home: Path, process: subprocess.Popen[bytes]) -> dict[str, Any] | None:
    if process.poll() is not None:
        log = (home / "up.log").read_text(errors="replace")
        raise AssertionError(f"irp up exited with {process.returncode}:\n{log[-3000:]}")
    try:
        info: dict[str, Any] = json.loads((home / "run" / "stack.json").read_text())
    except (OSError, ValueError):
        return None
    return info if "webhook_url" in info and "irp_database_url" in info else None


def api_headers(info: dict[str, Any]) -> dict[str, str]:
    """The header a client of this stack's Prefect API sends: the secret from the file its
    stack.json names."""
    secret = read_auth_file(Path(info["prefect_auth_file"]))
    assert secret, f"no secret in {info['prefect_auth_file']}"
    return basic_auth_header(secret)
