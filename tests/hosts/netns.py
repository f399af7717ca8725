"""A network of its own for each test host (`ip netns`), where root allows it.

The server side (the test process: PostgreSQL, the Prefect server, Alertmanager, the
notification receiver) stays in the machine's namespace, on a bridge with a private /24; each
host is a network namespace joined to that bridge by a veth pair, with its own address and its
own loopback. A host then reaches the Prefect server only over its veth, as a second machine
reaches it over the wire. PostgreSQL is reached by its unix socket (a file: namespaces do not
separate it). Names carry a random tag, so parallel test sessions do not collide.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def netns_allowed() -> bool:
    """Whether this process may create network namespaces, bridges and veth pairs (root with
    CAP_NET_ADMIN and the `ip` tool); CI containers without it keep loopback."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    tag = secrets.token_hex(3)
    try:
        with network(["probe"], tag=tag):
            return True
    except (subprocess.CalledProcessError, OSError):
        return False


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.234.0.0/16 that no interface of this machine uses."""
    used = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    for _ in range(50):
        third = secrets.randbelow(254) + 1
        if f" 10.234.{third}." not in used:
            return ipaddress.IPv4Network(f"10.234.{third}.0/24")
    raise OSError("no free 10.234.x.0/24 subnet for the test network")


@dataclass
class Network:
    """The bridge's address (where the server side listens) and each host's namespace."""

    server_ip: str
    namespaces: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)

    def exec_prefix(self, host: str) -> list[str]:
        """The argv prefix that runs a command inside `host`'s network namespace."""
        return ["ip", "netns", "exec", self.namespaces[host]]


@contextmanager
def network(hosts: Sequence[str], tag: str | None = None) -> Iterator[Network]:
    """A bridge and one namespace per host, removed afterwards (with whatever still runs in
    them cut off: stop the hosts first)."""
    tag = tag or secrets.token_hex(3)
    subnet = _free_subnet()
    addresses = list(subnet.hosts())
    bridge = f"irpbr{tag}"
    made: list[list[str]] = []
    net = Network(server_ip=str(addresses[0]))
    try:
        _ip("link", "add", bridge, "type", "bridge")
        made.append(["link", "del", bridge])
        _ip("addr", "add", f"{addresses[0]}/{subnet.prefixlen}", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for n, host in enumerate(hosts, start=1):
            namespace, outside, inside = f"irp-{tag}-{host}", f"irp{tag}v{n}", f"irp{tag}h{n}"
            _ip("netns", "add", namespace)
            made.append(["netns", "del", namespace])
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            made.append(["link", "del", outside])
            _ip("link", "set", inside, "netns", namespace)
            _ip("link", "set", outside, "master", bridge, "up")
            address = str(addresses[n])
            _ip("-n", namespace, "addr", "add", f"{address}/{subnet.prefixlen}", "dev", inside)
            _ip("-n", namespace, "link", "set", inside, "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
            net.namespaces[host] = namespace
            net.addresses[host] = address
        yield net
    finally:
        for command in reversed(made):
            with suppress(subprocess.CalledProcessError):
                _ip(*command)


@contextmanager
def host_network(hosts: Sequence[str]) -> Iterator[Network | None]:
    """`network(hosts)` where root allows it, else None: every host on loopback."""
    if not netns_allowed():
        yield None
        return
    with network(hosts) as net:
        yield net


def server_address(net: Network | None) -> str:
    """Where the server side listens for the hosts."""
    return net.server_ip if net else "127.0.0.1"
