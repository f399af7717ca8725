"""`irp incidents open`: whoever discovers an incident reports it (PLAN 4.1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from models.intake import REPORTED_TYPES


def register(incidents_app: typer.Typer) -> None:
    incidents_app.command("open")(incidents_open)


def incidents_open(
    title: Annotated[str, typer.Option(help="One line: what is happening.")],
    reporter: Annotated[str, typer.Option(help="Who discovered it and reports it.")],
    incident_type: Annotated[
        str,
        typer.Option(
            "--type",
            help=f"{' | '.join(REPORTED_TYPES)}; unknown: the commander chooses it at triage.",
        ),
    ] = "unknown",
    summary: Annotated[str, typer.Option(help="What happened, in your words.")] = "",
    service: Annotated[str | None, typer.Option(help="Main service affected.")] = None,
    occurred_at: Annotated[
        datetime | None,
        typer.Option(
            help="When it started, with a zone (2026-11-25T03:10:00+08:00).",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%z"],
        ),
    ] = None,
    fact: Annotated[
        list[str] | None,
        typer.Option(
            help="Any other intake field of the type, KEY=VALUE (JSON or text), repeatable: "
            "--fact people_affected=1200 --fact account=emp-1024.",
        ),
    ] = None,
) -> None:
    """Record a new incident and start its run (without waiting for it); print its id."""
    from deployments.report import open_and_start, reported_intake
    from irp.errors import InvalidInput
    from irp.settings import point_prefect_at_stack
    from models.enums import IncidentType

    if incident_type not in REPORTED_TYPES:
        raise InvalidInput(f"--type: {incident_type!r} is not one of {', '.join(REPORTED_TYPES)}")
    itype = IncidentType(incident_type.replace("-", "_"))
    stated = {
        "summary": title,
        "reporter": reporter,
        "description": summary,
        "service": service,
        "occurred_at": occurred_at,
    }
    intake = reported_intake(itype, stated, fact or [])
    point_prefect_at_stack()
    incident_id, run_id = open_and_start(itype, intake)
    typer.echo(incident_id)
    where = (
        "the triage gate, then its type's stages" if itype is IncidentType.unknown else "its stages"
    )
    typer.echo(f"{incident_id}: flow run {run_id} started for {where}", err=True)
