"""The `irp` command. Exit codes: 0 success, 1 the operation failed, 2 bad usage or input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from irp.cli import alerts as cli_alerts
from irp.cli import drills as cli_drills
from irp.cli import metrics as cli_metrics
from irp.cli import report as cli_report
from irp.cli import tasks as cli_tasks
from irp.cli import up as cli_up
from irp.cli.audit import audit_app
from irp.cli.notify import register as register_notify
from irp.cli.where import say_where
from irp.errors import InvalidInput, IrpError, PlanError
from irp.settings import point_prefect_at_stack

app = typer.Typer(
    help="irp: the incident response plan, executable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
plan_app = typer.Typer(help="Check the plan file.", no_args_is_help=True)
incidents_app = typer.Typer(help="Look at incidents.", no_args_is_help=True)
evidence_app = typer.Typer(help="Record evidence (chain of custody).", no_args_is_help=True)
app.add_typer(plan_app, name="plan")
app.add_typer(incidents_app, name="incidents")
app.add_typer(evidence_app, name="evidence")
register_notify(app)
cli_metrics.register(app)
cli_drills.register(app)
cli_report.register(incidents_app)
cli_tasks.register(app)
app.add_typer(cli_alerts.alerts_app, name="alerts")
app.add_typer(audit_app, name="audit")
app.command("webhook")(cli_alerts.webhook)
app.command("up")(cli_up.up)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@plan_app.command("validate")
def plan_validate(
    file: Annotated[Path | None, typer.Argument(help="Plan YAML (default: shipped)")] = None,
) -> None:
    """Exit 0 if the plan is valid for real incidents; else print every error as
    file:line: field: reason, exit 2 (a `simulate` step needs `simulate_in_real_incidents`)."""
    from irp.plan.loader import DEFAULT_PLAN_FILE, load_plan

    plan = load_plan(file, for_real_incidents=True)
    typer.echo(f"{file or DEFAULT_PLAN_FILE}: valid ({plan.name}, version {plan.version})")


@incidents_app.callback()
def incidents_group() -> None:
    """Every `irp incidents` command reads the database: say first which one."""
    say_where()


@incidents_app.command("list")
def incidents_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON array.")] = False,
) -> None:
    """Incidents, newest first; `run` says whether an open incident's flow run is alive."""
    from deployments.recovery import run_column
    from irp.cli import text

    point_prefect_at_stack()
    rows = text.incident_rows()
    runs = run_column(rows)
    for row in rows:
        row["run"] = runs.get(row["id"], "")
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        typer.echo("no incidents")
        return
    typer.echo(text.incident_table(rows))


@incidents_app.command("recover")
def incidents_recover(
    incident_id: Annotated[str | None, typer.Argument(metavar="[ID]")] = None,
) -> None:
    """Start a new run for open incidents whose flow run died; it continues where the incident
    stands. With ID, also a run that failed by its own error or was cancelled."""
    from deployments.recovery import prefect_api, recover

    point_prefect_at_stack()
    with prefect_api():
        outcomes = recover(incident_id, by="cli", include_stopped=incident_id is not None)
    shown = [o for o in outcomes if incident_id is not None or o.action != "alive"]
    for outcome in shown:
        typer.echo(outcome.message)
    if incident_id is None:
        alive = len(outcomes) - len(shown)
        typer.echo(f"{len(outcomes)} open incident(s) with a flow run: {alive} alive")
    failed = [o.incident_id for o in outcomes if o.action == "failed"]
    if failed:
        raise IrpError(f"could not recover {', '.join(failed)}")


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON object.")] = False,
) -> None:
    """One incident with its timeline, gates, actions and resources."""
    from irp.cli import text

    detail = text.incident_detail(incident_id)
    if as_json:
        _echo_json(detail)
    else:
        typer.echo(text.detail_text(detail))


@app.command()
def report(incident_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Write the incident's report again from the database and print where it is."""
    from irp.cli import text

    say_where()
    for path in text.rewrite_report(incident_id):
        typer.echo(str(path))


@app.command()
def approve(
    incident_id: Annotated[str, typer.Argument(metavar="INCIDENT")],
    decision: Annotated[str, typer.Option(help="approve | reject | escalate")] = "approve",
    by: Annotated[str, typer.Option("--by", help="Your role id or your name as in the plan.")] = "",
    comment: Annotated[str, typer.Option(help="Why; goes on the timeline.")] = "",
    priority: Annotated[str | None, typer.Option(help="Priority override P1-P4.")] = None,
    code: Annotated[
        str | None, typer.Option(help="The one-time code sent to you (--by: your person id).")
    ] = None,
    incident_type: Annotated[
        str | None, typer.Option("--type", help="At the triage gate: the incident's type.")
    ] = None,
) -> None:
    """Answer the gate an incident is waiting at, as the Prefect UI form does."""
    from deployments.runs import answer_gate
    from irp.redact import default_redactor

    if not by:
        raise InvalidInput("--by: say who decides (role id or name)")
    point_prefect_at_stack()
    say_where(prefect=True)
    gate = answer_gate(
        incident_id,
        decision=decision,
        approver=by,
        comment=comment,
        priority=priority,
        code=code,
        incident_type=incident_type,
    )
    typer.echo(f"{incident_id}: gate {gate} answered {decision} by {default_redactor().redact(by)}")


@app.command("report-part")
def report_part(
    incident_id: Annotated[str, typer.Argument(metavar="INCIDENT")],
    group: Annotated[str, typer.Option(help="Your group id (e.g. technical).")],
    by: Annotated[str, typer.Option("--by", help="Your role id or your name as in the plan.")],
    did: Annotated[str, typer.Option(help="What your group did.")],
    cause: Annotated[str, typer.Option(help="The cause, as your group sees it.")],
    lessons: Annotated[str, typer.Option(help="Lessons and improvements.")],
) -> None:
    """Write your group's part of the post-incident report (PLAN 4.6), as the UI form does."""
    from deployments.report_parts import write_part
    from irp.duties.report_parts import PartAnswer
    from irp.redact import default_redactor

    point_prefect_at_stack()
    say_where(prefect=True)
    revision = write_part(incident_id, PartAnswer(group, by, did, cause, lessons))
    who = default_redactor().redact(by)
    typer.echo(f"{incident_id}: part of {group} (report revision {revision}) sent by {who}")


@evidence_app.command("add")
def evidence_add(
    incident_id: Annotated[str, typer.Argument(metavar="INCIDENT")],
    what: Annotated[str, typer.Option(help="What was preserved.")],
    where: Annotated[str, typer.Option(help="Where it is kept.")],
    by: Annotated[str, typer.Option("--by", help="Who took it.")],
    file: Annotated[Path | None, typer.Option(help="Hash this file.")] = None,
    sha256: Annotated[str | None, typer.Option(help="SHA-256 if the file is elsewhere.")] = None,
) -> None:
    """Put an evidence item in the chain of custody."""
    from irp.db import session_scope
    from irp.incidents import service as incidents
    from irp.response import custody

    if file is None and sha256 is None:
        raise InvalidInput("--file or --sha256: give one")
    say_where()
    digest = custody.sha256_file(file) if file else str(sha256)
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        try:
            item = custody.add_evidence(
                session, incident, what=what, location=where, sha256=digest, collected_by=by
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    typer.echo(f"{incident_id}: evidence {item.id} sha256 {item.sha256}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: domain errors become messages and exit codes, never tracebacks.

    Click runs standalone: a usage error (unknown command or option, missing argument) prints
    the usage and exits 2, `--help` exits 0; both arrive here as SystemExit.
    """
    try:
        app(args=argv, prog_name="irp")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except PlanError as exc:
        for line in exc.messages:
            typer.echo(line, err=True)
        return 2
    except InvalidInput as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except IrpError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 1
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 401:
            raise
        typer.echo(f"error: {_unauthorized(exc.request.url)}", err=True)
        return 1
    return 0


def _unauthorized(url: httpx.URL) -> str:
    """Why the Prefect API said 401, and what fixes it (the secret itself is never shown)."""
    return (
        f"the Prefect API at {url.scheme}://{url.netloc.decode()} refused this command (HTTP "
        "401): it wants the server's secret. On the stack's machine run irp as the account that "
        "started `irp up` (it reads the file stack.json names); elsewhere set "
        "IRP_PREFECT_AUTH_STRING to the server's secret. PREFECT_API_KEY must be unset."
    )


def run() -> None:
    """Console script."""
    sys.exit(main())


if __name__ == "__main__":
    run()
