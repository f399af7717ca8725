"""`irp metrics`: response figures from the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irp.cli.where import say_where
from irp.errors import InvalidInput
from irp.settings import point_prefect_at_stack

FORMATS = ("table", "csv", "json")


def metrics(
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    out: Annotated[
        Path | None, typer.Option(help="Also write metrics.csv, drills.csv, metrics.json here.")
    ] = None,
    png: Annotated[Path | None, typer.Option(help="Write a PNG chart to this file.")] = None,
    include_drills: Annotated[bool, typer.Option(help="Count drill incidents too.")] = False,
    artifact: Annotated[bool, typer.Option(help="Publish as a Prefect artifact.")] = False,
) -> None:
    """Time to detect, acknowledge, contain and resolve per type, priority and month; drill results."""
    from irp.db import get_engine
    from irp.reporting import metrics as service

    if fmt not in FORMATS:
        raise InvalidInput(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if artifact:
        point_prefect_at_stack()
    say_where(prefect=artifact)
    result = service.collect(get_engine(), include_drills=include_drills)
    typer.echo(service.render(result, fmt), nl=False)
    if out is not None:
        for path in service.write_outputs(result, out):
            typer.echo(f"wrote {path}", err=True)
    if png is not None:
        typer.echo(f"wrote {service.chart(result, png)}", err=True)
    if artifact:
        from tasks.metrics import publish_metrics

        typer.echo(f"artifact: {publish_metrics(result)}", err=True)


def register(app: typer.Typer) -> None:
    """Add `irp metrics` to the main CLI."""
    app.command("metrics")(metrics)
