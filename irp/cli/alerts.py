"""`irp webhook` (receive alerts) and `irp alerts list` (see them, above all the unmapped)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

alerts_app = typer.Typer(help="Alerts received from monitors.", no_args_is_help=True)

ALERT_COLUMNS = [
    "id",
    "received_at",
    "source",
    "name",
    "status",
    "service",
    "incident_type",
    "subtype",
    "incident_id",
]
BODY_FIELDS = {"payload", "raw_body", "raw_body_encoding"}


def webhook(
    host: Annotated[
        str | None, typer.Option(help="Bind address (default IRP_WEBHOOK_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default IRP_WEBHOOK_PORT, 8765).")] = None,
    local_demo: Annotated[
        bool, typer.Option("--local-demo", help="Accept unauthenticated alerts (no secret set).")
    ] = False,
) -> None:
    """Receive alerts over HTTP (Alertmanager, Grafana, CloudEvents, generic) until stopped."""
    from deployments.webhook import serve_webhook

    serve_webhook(host=host, port=port, local_demo=local_demo)


def alert_rows(*, unmapped_only: bool, limit: int) -> list[dict[str, Any]]:
    """Rows without the bodies, personal data masked (names and labels come from senders)."""
    from irp.alerts.ingest import list_alerts
    from irp.db import session_scope
    from irp.redact import default_redactor

    with session_scope() as session:
        alerts = list_alerts(session, unmapped_only=unmapped_only, limit=limit)
        rows = [a.model_dump(mode="json", exclude=BODY_FIELDS) for a in alerts]
    masked: list[dict[str, Any]] = default_redactor().redact_data(rows)
    return masked


@alerts_app.command("list")
def alerts_list(
    unmapped: Annotated[
        bool, typer.Option("--unmapped", help="Only alerts no classification rule maps.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 200,
) -> None:
    """Alerts received, newest first."""
    from irp.cli import text
    from irp.cli.where import say_where

    say_where()
    rows = alert_rows(unmapped_only=unmapped, limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no unmapped alerts" if unmapped else "no alerts")
        return
    typer.echo(text.text_table(rows, ALERT_COLUMNS))
