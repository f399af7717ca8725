"""`irp audit verify [ID]`: is each incident's timeline as it was written?"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from irp.cli.where import say_where
from irp.errors import IrpError
from irp.incidents.timeline import ChainCheck

audit_app = typer.Typer(help="Check the record auditors rely on.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    incident_id: Annotated[str | None, typer.Argument(help="One incident (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Walk each incident's timeline chain; exit 1 naming the first event edited, removed or
    inserted since it was written."""
    from sqlmodel import col, select

    from irp.db import session_scope
    from irp.incidents import service as incidents
    from irp.incidents import timeline
    from models import Incident

    say_where()
    with session_scope() as session:
        if incident_id is not None:
            ids = [incidents.get_incident(session, incident_id).id]
        else:
            ids = list(session.exec(select(Incident.id).order_by(col(Incident.created_at))))
        checks = [timeline.verify(session, i) for i in ids]
    if as_json:
        typer.echo(json.dumps([{**asdict(c), "intact": c.intact} for c in checks], indent=2))
    else:
        for check in checks:
            typer.echo(_line(check))
    broken = [c for c in checks if not c.intact]
    if broken:
        first = broken[0]
        raise IrpError(
            f"{len(broken)} of {len(checks)} timelines broken; first: {first.incident_id} "
            f"event {first.broken_at}"
        )


def _line(check: ChainCheck) -> str:
    if check.intact:
        return f"{check.incident_id}: {check.events} events, chain intact, head {check.head}"
    return f"{check.incident_id}: BROKEN at event {check.broken_at}: {check.problem}"
