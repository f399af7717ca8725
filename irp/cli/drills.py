"""`irp drill TYPE` runs one; `irp drills list|audit`: the plan's scenarios and the 12-month
audit (PCI DSS 12.10.2) from the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from irp.cli.where import say_where
from irp.errors import InvalidInput, IrpError
from irp.settings import point_prefect_at_stack
from models.intake import INTAKE_MODELS

INCIDENT_TYPES = [t.cli_name for t in INTAKE_MODELS]
drills_app = typer.Typer(
    help="Drill schedules, records and the audit for auditors.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add `irp drill` and `irp drills` to the main CLI."""
    app.command("drill")(drill)
    app.add_typer(drills_app, name="drills")


def drill(
    incident_type: Annotated[str, typer.Argument(metavar="TYPE", help=" | ".join(INCIDENT_TYPES))],
    auto_approve: Annotated[
        bool, typer.Option(help="The drill policy decides every gate.")
    ] = False,
    plan: Annotated[Path | None, typer.Option(help="Plan YAML (default: shipped)")] = None,
    description: Annotated[str, typer.Option(help="What the scenario is about.")] = "",
    summary: Annotated[str | None, typer.Option(help="One-line summary.")] = None,
    reporter: Annotated[str, typer.Option(help="Who reports the drill incident.")] = "drill",
    notify: Annotated[
        str | None,
        typer.Option("--notify", help="Apprise URL for every audience's drill messages."),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(help="A scenario from the plan's drills: its facts and injected faults."),
    ] = None,
    with_people: Annotated[
        bool,
        typer.Option(
            "--with-people", help="Manual tasks go to their real owners; answer times are scored."
        ),
    ] = False,
) -> None:
    """Run a complete drill of one incident type and print the incident id and report path.

    Without --auto-approve, each gate waits for a person: the drill says on stderr which
    incident waits, who may decide and how to answer (`irp approve` or the Prefect UI)."""
    from deployments.runs import run_drill

    if incident_type not in INCIDENT_TYPES:
        raise InvalidInput(f"TYPE: {incident_type!r} is not one of {', '.join(INCIDENT_TYPES)}")
    point_prefect_at_stack()
    say_where(prefect=True)
    incident_id, report_path = run_drill(
        incident_type.replace("-", "_"),
        auto_approve=auto_approve,
        plan_file=str(plan) if plan else None,
        description=description,
        summary=summary,
        reporter=reporter,
        notify_url=notify,
        scenario=scenario,
        with_people=with_people,
        on_gate=None if auto_approve else (lambda text: typer.echo(text, err=True)),
    )
    typer.echo(f"incident: {incident_id}")
    typer.echo(f"report: {report_path}")
    _send_queued(incident_id)


def _send_queued(incident_id: str) -> None:
    """Without a stack nobody else sends what the drill queued: this process's delivery worker
    finishes it (the stages are done; a dead target only delays the exit)."""
    from irp.notify import worker
    from irp.settings import get_settings, running_stack

    if running_stack(get_settings()) is not None:
        return  # the stack's delivery workers send them
    if not worker.wait_delivered(incident_id, worker.EXIT_WAIT_S):
        typer.echo(
            f"{incident_id}: notifications still unsent; the next irp process that sends "
            "notifications (or `irp up`) delivers them",
            err=True,
        )


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
