"""`irp notifications ...` and `irp clocks ...`: failed messages, resending, legal deadlines."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from irp.cli.where import say_where
from irp.errors import InvalidInput, IrpError

notifications_app = typer.Typer(help="Messages irp sent or failed to send.", no_args_is_help=True)
clocks_app = typer.Typer(help="Regulatory clocks (legal deadlines).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add both command groups to the main `irp` app."""
    app.add_typer(notifications_app, name="notifications")
    app.add_typer(clocks_app, name="clocks")


@notifications_app.command("failed")
def notifications_failed(
    incident: Annotated[str | None, typer.Option(help="Only this incident.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array.")] = False,
) -> None:
    """Deliveries that failed after every retry; resend them with `irp notifications resend ID`."""
    from irp.db import session_scope
    from irp.notify import service

    say_where()
    with session_scope() as session:
        rows = [
            {
                "id": n.id,
                "incident": n.incident_id,
                "event": n.event,
                "audience": n.audience,
                "target": n.target,
                "attempts": len([a for a in n.attempts if "number" in a]),
                "error": (n.attempts[-1].get("error") if n.attempts else None) or "",
                "created_at": n.created_at.isoformat(),
            }
            for n in service.failed(session, incident)
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no failed notifications")
        return
    from irp.cli.text import text_table

    columns = ["id", "incident", "event", "audience", "target", "attempts", "error"]
    typer.echo(text_table(rows, columns))


@notifications_app.command("resend")
def notifications_resend(
    notification_id: Annotated[int, typer.Argument(metavar="ID")],
    to: Annotated[
        str | None, typer.Option("--to", help="Apprise URL, if the target is not in the plan.")
    ] = None,
) -> None:
    """Deliver a failed message again; every attempt is added to its record."""
    from irp.notify import service

    say_where()
    row = service.resend(notification_id, url=to)
    if row.status != service.SENT:
        last = row.attempts[-1].get("error") if row.attempts else None
        raise IrpError(f"notification {notification_id} failed again: {last}")
    typer.echo(f"notification {notification_id}: delivered to {row.target}")


@clocks_app.command("list")
def clocks_list(incident_id: Annotated[str, typer.Argument(metavar="INCIDENT")]) -> None:
    """The incident's clocks: running, met or missed."""
    from irp.db import session_scope
    from irp.incidents import service as incidents
    from irp.notify import clocks

    say_where()
    with session_scope() as session:
        incidents.get_incident(session, incident_id)
        rows = clocks.clock_rows(session, incident_id)
    typer.echo("\n".join(clocks.describe(r) for r in rows) or "no regulatory clock started")


@clocks_app.command("stop")
def clocks_stop(
    incident_id: Annotated[str, typer.Argument(metavar="INCIDENT")],
    rule: Annotated[str, typer.Argument(metavar="RULE", help="e.g. cac, pipl, gdpr, pci")],
    by: Annotated[str, typer.Option("--by", help="Who sent the notification.")] = "",
    reference: Annotated[str, typer.Option(help="Filing or message reference.")] = "",
    at: Annotated[
        str | None, typer.Option(help="When it was sent, ISO 8601 with zone (default: now).")
    ] = None,
) -> None:
    """Record the notification to the authority as sent; this stops the clock."""
    from irp.db import session_scope
    from irp.notify import clocks

    when = _parse_time(at) if at else None
    say_where()
    with session_scope() as session:
        clock = clocks.stop_clock(session, incident_id, rule, by=by, reference=reference, at=when)
        verdict = clocks.status(clock)
    typer.echo(f"{incident_id}: clock {rule} stopped ({verdict})")


@clocks_app.command("remind")
def clocks_remind(
    incident: Annotated[str | None, typer.Option(help="Only this incident.")] = None,
) -> None:
    """Send every due clock reminder now (for cron or the stack to call periodically)."""
    from irp.notify import service

    say_where()
    sent = service.tick_clocks(incident)
    typer.echo(f"{sent} reminder(s) sent")


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"--at: {value!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise InvalidInput("--at: give a time zone (e.g. 2026-11-25T03:10:00+08:00)")
    return parsed
