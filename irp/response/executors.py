"""The three ways an action touches the world (DESIGN.md principle 5): simulate, http, command.

A drill runs `http` and `command` steps only when the plan marks them drill-safe; otherwise
`would_do` describes what the step would have sent or run, for the timeline (issue 11).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from irp.errors import ActionFailed
from irp.plan.env_refs import ENV_REFERENCE
from models.plan import LIVE_EXECUTORS

SECRET_NAME = re.compile(r"secret|token|passw|auth|key|credential|signature", re.IGNORECASE)
HIDDEN = "***"


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
        return http(_expand(params), ctx)
    if executor == "command":
        return command(_expand(params), ctx)
    raise ActionFailed(f"unknown executor {executor!r}")


def held_back(executor: str | None, drill_safe: bool, drill: bool) -> bool:
    """A drill never touches a real system unless the plan says this step is drill-safe."""
    return drill and not drill_safe and executor in LIVE_EXECUTORS


def simulated_for_real(executor: str | None, drill: bool) -> bool:
    """A real incident running a `simulate` step: nothing real happens, the record says so."""
    return executor == "simulate" and not drill


def would_do(executor: str, params: dict[str, Any]) -> str:
    """What a step would send or run, in words for the record: `${VAR}` references stay
    unexpanded; URL credentials, header values and secret-named values are hidden."""
    if executor == "http":
        body = _hide_secrets(params.get("json"))
        sent = f" {json.dumps(body, ensure_ascii=False)[:500]}" if body is not None else ""
        headers = sorted(params.get("headers", {}))
        shown = f" (headers: {', '.join(headers)})" if headers else ""
        return f"would {params.get('method', 'POST')} {_masked_url(str(params.get('url', '')))}{sent}{shown}"
    if executor == "command":
        argv = params.get("argv") or []
        words = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
        return f"would run {shlex.join(_hide_secret_args(words))}"
    return f"would {executor} {params.get('operation', '')}".rstrip()


def _expand(params: Any) -> Any:
    """`${VAR}` references filled from the environment when the step really runs."""
    if isinstance(params, str):
        missing = [name for name in ENV_REFERENCE.findall(params) if name not in os.environ]
        if missing:
            raise ActionFailed(f"environment variable {', '.join(missing)} is not set")
        return ENV_REFERENCE.sub(lambda m: os.environ[m.group(1)], params)
    if isinstance(params, dict):
        return {key: _expand(value) for key, value in params.items()}
    if isinstance(params, list):
        return [_expand(value) for value in params]
    return params


def _masked_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    query = [(k, HIDDEN if SECRET_NAME.search(k) else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="${}*")))


def _hide_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: HIDDEN if SECRET_NAME.search(str(k)) and not _reference(v) else _hide_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hide_secrets(v) for v in value]
    return value


def _hide_secret_args(words: list[str]) -> list[str]:
    """`--token=abc` and the word after `--token` are hidden unless they are `${VAR}`s."""
    shown: list[str] = []
    for word in words:
        name, eq, value = word.partition("=")
        previous = shown[-1] if shown else ""
        if eq and name.startswith("-") and SECRET_NAME.search(name) and not _reference(value):
            word = f"{name}={HIDDEN}"
        elif previous.startswith("-") and "=" not in previous and SECRET_NAME.search(previous):
            word = word if _reference(word) else HIDDEN
        shown.append(word)
    return shown


def _reference(value: object) -> bool:
    return isinstance(value, str) and ENV_REFERENCE.fullmatch(value) is not None


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
