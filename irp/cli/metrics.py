"""`irp metrics` and `irp drills ...`: response figures and the drill audit from the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from irp.cli.where import say_where
from irp.errors import InvalidInput, IrpError

drills_app = typer.Typer(
    help="Drill schedules, records and the audit for auditors.", no_args_is_help=True
)
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
    say_where(prefect=artifact)
    result = service.collect(get_engine(), include_drills=include_drills)
    typer.echo(service.render(result, fmt), nl=False)
    if out is not None:
        for path in service.write_outputs(result, out):
            typer.echo(f"wrote {path}", err=True)
    if png is not None:
        typer.echo(f"wrote {service.chart(result, png)}", err=True)
    if artifact:
        from irp.settings import configure_prefect

        configure_prefect()
        from tasks.metrics import publish_metrics

        typer.echo(f"artifact: {publish_metrics(result)}", err=True)


def _date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@drills_app.command("audit")
def audit(
    since: Annotated[
        str | None, typer.Option(help="List drills from this date (default: 12 months ago).")
    ] = None,
    plan: Annotated[Path | None, typer.Option(help="Plan YAML (default: shipped)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    check: Annotated[
        bool, typer.Option(help="Exit 1 if a type was not drilled within the plan's interval.")
    ] = False,
) -> None:
    """List drills and flag incident types not drilled in the last 12 months (PCI DSS 12.10.2)."""
    from irp.db import session_scope
    from irp.drills import audit as drill_audit
    from irp.plan.loader import get_plan

    start = _date(since, "--since")
    say_where()
    loaded = get_plan(str(plan) if plan else None)
    with session_scope() as session:
        found = drill_audit.audit(session, loaded, start)
    if as_json:
        payload = {
            "drills": found.drills.to_dict(orient="records"),
            "coverage": found.coverage.to_dict(orient="records"),
            "overdue": found.overdue,
        }
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        listed = "no drills" if found.drills.empty else found.drills.to_string(index=False)
        typer.echo(f"Drills\n{listed}\n\nCoverage per incident type")
        typer.echo(found.coverage.drop(columns=["ok"]).to_string(index=False))
    if check and found.overdue:
        raise IrpError(f"not drilled within the plan's interval: {', '.join(found.overdue)}")


@drills_app.command("list")
def list_scenarios(
    plan: Annotated[Path | None, typer.Option(help="Plan YAML (default: shipped)")] = None,
) -> None:
    """The plan's drill scenarios, their schedules and injected faults."""
    from irp.plan.loader import get_plan

    loaded = get_plan(str(plan) if plan else None)
    for name, spec in loaded.drills.scenarios.items():
        when = spec.cron or (f"every {spec.interval_s:g} s" if spec.interval_s else "on demand")
        faults = [f"{k} fails {n}x" for k, n in spec.faults.items()]
        faults += [f"gate {g} unanswered" for g in spec.unanswered_gates]
        faults += [f"{n} x {r} short" for r, n in spec.shortfall.items()]
        typer.echo(
            f"drill-{name}: {spec.incident_type.value} at {when} ({loaded.drills.timezone}); "
            f"faults: {', '.join(faults) or 'none'}"
        )


def register(app: typer.Typer) -> None:
    """Add `irp metrics` and `irp drills` to the main CLI."""
    app.command("metrics")(metrics)
    app.add_typer(drills_app, name="drills")
