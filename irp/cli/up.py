"""`irp up`: the whole stack on one machine, kept running (a child that exits is restarted)
and stopped with Ctrl-C or SIGTERM.

PostgreSQL (embedded under IRP_HOME, or IRP_PREFECT_DATABASE_URL), the Prefect server and UI,
the serve process running the deployments (deployments/serve.py) and the alert webhook.
irp's own tables go into an `irp` database on the same PostgreSQL unless IRP_DATABASE_URL
says otherwise. While it runs, $IRP_HOME/run/stack.json tells other `irp` commands where the
API and irp's database are.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer

from irp.prefect_auth import AUTH_VARIABLE
from irp.settings import Settings, database_url_in_use, get_settings, stack_file
from irp.stack import Stack, StackConfig, StopRequested, check_port_free
from irp.stack.processes import Child

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVE_NAME = "serve"
WEBHOOK_NAME = "webhook"


def irp_database_url(stack: Stack) -> str | None:
    """IRP_DATABASE_URL if set, else the stack's `irp` database; None means SQLite in home."""
    explicit = os.environ.get("IRP_DATABASE_URL")
    if explicit:
        return explicit
    return stack.postgres.irp_url if stack.postgres is not None else None


def start_services(
    stack: Stack,
    settings: Settings,
    *,
    webhook: bool = True,
    echo: Callable[[str], None] = print,
    ready_deadline_s: float = 120.0,
) -> dict[str, str]:
    """With the stack's server up: migrate irp's tables, start serve and the webhook.

    Returns the URLs to show. Raises StackError (naming the log) when a part does not start.
    """
    db_url = irp_database_url(stack)
    if db_url is None:
        stack.env.pop("IRP_DATABASE_URL", None)
    else:
        stack.env["IRP_DATABASE_URL"] = db_url
    _migrate(db_url)
    stack.supervisor.check_stop()
    stack.add_process(
        SERVE_NAME,
        [sys.executable, "-m", "deployments.serve"],
        cwd=REPO_ROOT,
        ready=deployments_polled(stack.api_url, stack.api_headers),
        ready_deadline_s=ready_deadline_s,
        title="serve (runs the deployments)",
        when_down="new flow runs wait Scheduled until it is back",
    )
    urls = {
        "ui_url": stack.ui_url,
        "api_url": stack.api_url,
        "docs_url": f"{stack.ui_url}/docs",
    }
    if webhook:
        host, port = settings.webhook_host, settings.webhook_port
        check_port_free(host, port, "IRP_WEBHOOK_PORT")
        argv = [sys.executable, "-m", "irp.cli", "webhook", "--host", host, "--port", str(port)]
        configured = (
            settings.webhook_token,
            settings.webhook_hmac_secret,
            settings.webhook_token_block,
            settings.webhook_hmac_secret_block,
        )
        if not any(configured):
            echo(
                "warning: no IRP_WEBHOOK_TOKEN or IRP_WEBHOOK_HMAC_SECRET (nor a Secret block) "
                "set: the webhook accepts unauthenticated alerts (--local-demo); set one before "
                "exposing it"
            )
            argv.append("--local-demo")
        base = f"http://{host}:{port}"
        stack.add_process(
            WEBHOOK_NAME,
            argv,
            cwd=REPO_ROOT,
            ready_url=f"{base}/healthz",
            ready_deadline_s=ready_deadline_s,
            when_down="alert senders get connection refused and retry",
        )
        urls["webhook_url"] = base
        urls["webhook_docs_url"] = f"{base}/docs"
    return urls


def _migrate(db_url: str | None) -> None:
    """Create or upgrade irp's schema once, before several processes open it."""
    from irp import db

    db.get_engine(db_url or database_url_in_use())


def deployments_polled(api_url: str, headers: Mapping[str, str]) -> Callable[[Child], bool]:
    """Readiness of serve: its runner polls the incident deployments (one per incident type)
    for work. (Registered deployments outlive serve: only a poll after this child started says
    it serves them.)"""
    from deployments.names import DEPLOYMENT
    from models.intake import INTAKE_MODELS

    count = len(INTAKE_MODELS)
    body = {"deployments": {"name": {"any_": [DEPLOYMENT]}}}

    def ready(child: Child) -> bool:
        try:
            with httpx.Client(timeout=2, trust_env=False, headers=headers) as client:
                response = client.post(f"{api_url}/deployments/filter", json=body)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        polled = [
            datetime.fromisoformat(d["last_polled"]).timestamp()
            for d in response.json()
            if d.get("last_polled")
        ]
        return len([t for t in polled if t >= child.started_wall]) >= count

    return ready


def auth_source(config: StackConfig) -> str:
    """Where the person at the terminal finds the API's secret (never the secret itself)."""
    if config.auth_file is not None:
        return f"the line in {config.auth_file}"
    return f"the value of {AUTH_VARIABLE}"


def write_stack_file(
    settings: Settings, urls: dict[str, str], db_url: str | None, config: StackConfig
) -> Path:
    """Tell other `irp` commands (approve, drill, incidents) how to reach this stack, and
    where its API's secret is kept (the file, readable by its owner only)."""
    path = stack_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, object] = {**urls, "pid": os.getpid()}
    if config.auth_file is not None:
        data["prefect_auth_file"] = str(config.auth_file)
    if db_url is not None and "IRP_DATABASE_URL" not in os.environ:
        data["irp_database_url"] = db_url
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


@contextmanager
def full_stack(
    config: StackConfig,
    settings: Settings | None = None,
    *,
    webhook: bool = True,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] = print,
    stop_on_signals: bool = False,
) -> Iterator[tuple[Stack, dict[str, str]]]:
    """The whole stack while the block runs (tests, benchmarks, `irp up`); `env` reaches every
    child started after the server. stack.json is written inside and removed after. With
    `stop_on_signals`, SIGINT/SIGTERM/SIGHUP stop it, also while it starts (StopRequested)."""
    settings = settings or get_settings()
    stack = Stack(config, echo=echo)
    path = stack_file(settings)
    with ExitStack() as cleanup:
        if stop_on_signals:
            cleanup.enter_context(stack.stop_on_signals())
        try:
            stack.start()
            stack.env.update(env or {})
            urls = start_services(stack, settings, webhook=webhook, echo=echo)
            write_stack_file(settings, urls, stack.env.get("IRP_DATABASE_URL"), config)
            yield stack, urls
        finally:
            stack.stop()
            path.unlink(missing_ok=True)


def up(
    port: Annotated[
        int | None,
        typer.Option(help="Prefect server and UI port (default IRP_PREFECT_PORT, 4200)."),
    ] = None,
    webhook: Annotated[
        bool, typer.Option("--webhook/--no-webhook", help="Also run the alert webhook.")
    ] = True,
) -> None:
    """Start PostgreSQL, the Prefect server and UI, the deployments and the webhook; keep them
    running (one that exits is restarted); Ctrl-C stops all."""
    settings = get_settings()
    config = StackConfig(
        home=settings.resolved_home,
        prefect_port=port or settings.prefect_port,
        database_url=os.environ.get("IRP_PREFECT_DATABASE_URL") or None,
        auth_string=secret.get_secret_value() if (secret := settings.prefect_auth_string) else None,
    )
    typer.echo(f"irp: starting the stack in {config.home} (logs in {config.logs_dir})")
    started = time.monotonic()
    try:
        with full_stack(config, settings, webhook=webhook, echo=_echo, stop_on_signals=True) as (
            stack,
            urls,
        ):
            _show(urls, auth_source(config), time.monotonic() - started)
            stack.run_forever()
    except StopRequested as stopped:
        _echo(f"irp: {stopped.reason} received while starting; every process it started is stopped")
        return
    _echo("irp: stopped; every process it started has exited")


def _echo(text: str) -> None:
    typer.echo(text)
    sys.stdout.flush()


def _show(urls: dict[str, str], auth: str, took_s: float) -> None:
    typer.echo(f"\nPrefect UI   {urls['ui_url']}\nPrefect API  {urls['api_url']}")
    typer.echo(f"API docs     {urls['docs_url']}")
    typer.echo(f"UI login     the UI asks once for the API's secret: paste {auth}")
    if "webhook_url" in urls:
        typer.echo(f"Webhook      {urls['webhook_url']}  (docs {urls['webhook_docs_url']})")
    typer.echo(
        f"\nirp is up ({took_s:.1f} s). A process that exits is restarted; "
        "Ctrl-C stops every process it started."
    )
    sys.stdout.flush()
