"""The line every stateful command prints first, on stderr: which home, stack and database it
works on, and a warning when no stack runs (an empty `.irp/` in the wrong directory is no
longer silent). stdout stays the command's own, so `--json` output is pure JSON."""

from __future__ import annotations

import typer

from irp.settings import Whereabouts, whereabouts


def say_where(*, prefect: bool = False) -> None:
    """Print where this command's state is; `prefect`: the command also talks to Prefect."""
    typer.echo(where_line(whereabouts(prefect=prefect), prefect=prefect), err=True)


def where_line(where: Whereabouts, *, prefect: bool) -> str:
    """One line: home, database and (for a Prefect command) the Prefect API."""
    home = f"home {where.home}"
    notes = [] if where.home_from_env else ["IRP_HOME not set"]
    if not where.home_exists:
        notes.append("new, empty")
    if notes:
        home += f" ({'; '.join(notes)})"
    database = "the stack's PostgreSQL" if where.database_from_stack else where.database
    uses = [f"database {database}"]
    if prefect:
        uses.append(
            f"Prefect {where.prefect_api_url}"
            if where.prefect_api_url
            else "Prefect: a temporary server for this command only (its runs are in no UI)"
        )
    configured = where.database_from_env and (not prefect or where.prefect_api_from_env)
    stack = "stack running" if where.stack_running else "no stack running"
    if configured and not where.stack_running:
        stack = "no stack, configured by the environment"
    if (where.stack_running or configured) and (where.prefect_api_url or not prefect):
        return f"irp: {home}, {stack}: {', '.join(uses)}"
    return (
        f"irp: warning: {stack} for {home}: {', '.join(uses)}. "
        "Start one with `irp up`, or set IRP_HOME to the home of the one running."
    )
