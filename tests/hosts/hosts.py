"""irp hosts for the multi-host tests and benchmark: each a separate process tree with its own
IRP_HOME and working folder running serve, a Prefect worker and/or the webhook
(tests/hosts/host.py), in its own PID, mount and UTS namespaces where the kernel allows, and in
its own network namespace when a test network is given (tests/hosts/netns.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.hosts.central import Central, host_env, start_process
from tests.hosts.netns import Network
from tests.irp.processes import free_port

TOKEN = "multihost-webhook-token"
HOST_SCRIPT = Path(__file__).with_name("host.py")
# Root needs no user namespace (and inside one would lose its access to PostgreSQL's socket,
# owned by the user PostgreSQL runs as); anyone else maps themselves to root in one.
NAMESPACES = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
NAMESPACES += ["--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--mount-proc", "--uts"]


def namespaces_allowed() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run([unshare, *NAMESPACES, "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


@dataclass
class Host:
    name: str
    process: subprocess.Popen[bytes]
    webhook_url: str
    hostname: str
    isolated: bool
    log: Path
    home: Path

    def tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def runs(self, labels: dict[str, Any]) -> bool:
        """Whether the run with these labels ran here (by host name, or by process)."""
        if self.isolated:
            return bool(labels.get("irp.host") == self.hostname)
        return str(labels.get("irp.pid")) in {str(p.pid) for p in self.tree()}

    def healthy(self) -> bool:
        """The webhook answers; a host that exited fails with its log."""
        if self.process.poll() is not None:
            raise AssertionError(f"host {self.name} exited:\n{self.log.read_text()[-3000:]}")
        try:
            answer = httpx.get(f"{self.webhook_url}/healthz", timeout=2, trust_env=False)
        except httpx.TransportError:
            return False
        return answer.status_code == 200

    def kill(self) -> None:
        """Power off: SIGKILL to every process of the host at once."""
        if self.process.poll() is not None:
            return
        tree = self.tree()
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(tree, timeout=30)
        self.process.wait(30)


def start_host(
    central: Central,
    name: str,
    folder: Path,
    settings: dict[str, str],
    isolated: bool,
    *,
    serve: bool = True,
    webhook: bool = True,
    programs: Sequence[Sequence[str]] = (),
    network: Network | None = None,
) -> Host:
    """Host `name` under `folder/name` with these IRP_ settings, running serve, the webhook and
    any other `programs` (argv lists); its log is `folder/name.log`. With a `network`, the host
    is its namespace there (`name` must be one of its hosts)."""
    cwd = folder / name
    env = host_env(central, cwd / "home", IRP_WEBHOOK_TOKEN=TOKEN, PYTHONUNBUFFERED="1")
    env.update(settings)
    address = network.addresses[name] if network else "127.0.0.1"
    port = free_port()
    commands = []
    if serve:
        commands += ["--", sys.executable, "-m", "deployments.serve"]
    if webhook:
        commands += ["--", sys.executable, "-m", "irp.cli", "webhook"]
        commands += ["--host", address, "--port", str(port)]
    for program in programs:
        commands += ["--", *program]
    launcher = [sys.executable, str(HOST_SCRIPT), f"irp-{name}", *commands]
    argv = ["unshare", *NAMESPACES, *launcher] if isolated else launcher
    if network:
        argv = network.exec_prefix(name) + argv
    log = folder / f"{name}.log"
    process = start_process(argv, env, cwd, log)
    hostname = f"irp-{name}" if isolated else socket.gethostname()
    return Host(name, process, f"http://{address}:{port}", hostname, isolated, log, cwd / "home")
