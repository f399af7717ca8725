"""The three ways an action touches the world (DESIGN.md principle 5): simulate, http, command."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

import httpx

from irp.errors import ActionFailed


@dataclass(frozen=True)
class ActionContext:
    """What an executor knows about the call: used for idempotency and fault injection."""

    incident_id: str
    action: str
    attempt: int
    timeout_s: float
    drill: bool

    @property
    def idempotency_key(self) -> str:
        return f"{self.incident_id}:{self.action}"


def run(executor: str, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Run one attempt; raise ActionFailed so the task's retry policy applies."""
    if executor == "simulate":
        return simulate(params, ctx)
    if executor == "http":
        return http(params, ctx)
    if executor == "command":
        return command(params, ctx)
    raise ActionFailed(f"unknown executor {executor!r}")


def simulate(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Drills and rehearsals: succeeds, unless told to fail its first `fail_times` attempts."""
    fail_times = int(params.get("fail_times", 0))
    if ctx.attempt <= fail_times:
        raise ActionFailed(f"simulated failure {ctx.attempt} of {fail_times}")
    return {"simulated": True, "operation": params.get("operation", ctx.action)}


def http(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Call a firewall/WAF/IAM/SOAR API; the Idempotency-Key header stops double effects."""
    url = params.get("url")
    if not url:
        raise ActionFailed("http executor needs params.url")
    headers = {"Idempotency-Key": ctx.idempotency_key, **params.get("headers", {})}
    try:
        response = httpx.request(
            params.get("method", "POST"),
            url,
            json=params.get("json", {"incident_id": ctx.incident_id, "action": ctx.action}),
            headers=headers,
            timeout=ctx.timeout_s,
        )
    except httpx.HTTPError as exc:
        raise ActionFailed(f"{type(exc).__name__} calling {httpx.URL(url).host}") from exc
    if response.status_code >= 400:
        raise ActionFailed(f"HTTP {response.status_code} from {httpx.URL(url).host}")
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    return {"status_code": response.status_code, "body": body}


def command(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Run a local command (argv list or a string split like a shell, never through one)."""
    argv = params.get("argv")
    if isinstance(argv, str):
        argv = shlex.split(argv)
    if not argv:
        raise ActionFailed("command executor needs params.argv")
    env_extra = {"IRP_INCIDENT_ID": ctx.incident_id, "IRP_IDEMPOTENCY_KEY": ctx.idempotency_key}
    try:
        done = subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            timeout=ctx.timeout_s,
            env={**os.environ, **env_extra},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ActionFailed(f"{argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise ActionFailed(f"{argv[0]} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return {"returncode": 0, "stdout": done.stdout.strip()[-1000:]}
