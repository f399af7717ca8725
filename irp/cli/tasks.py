"""`irp tasks list|done|fail|skip`: work for people (issue 11) from a shell."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from irp.cli.where import say_where
from irp.errors import InvalidInput
from irp.settings import point_prefect_at_stack

tasks_app = typer.Typer(help="Manual tasks: list them, answer them.", no_args_is_help=True)
COLUMNS = ("id", "incident_id", "key", "group", "owner", "status", "due_at", "answered_by")

By = Annotated[
    str,
    typer.Option(
        "--by", help="Your role id (one of the task's owners); with codes: your person id or name."
    ),
]
Note = Annotated[str, typer.Option("--note", help="What was done; goes on the timeline.")]
Evidence = Annotated[
    str | None, typer.Option("--evidence", help="Evidence reference (when the task needs one).")
]
Code = Annotated[str, typer.Option("--code", help="The one-time code (or link token) sent to you.")]
TaskId = Annotated[int, typer.Argument(metavar="TASK", help="The task's number (irp tasks list).")]


def register(app: typer.Typer) -> None:
    """Add `irp tasks` to the main CLI."""
    app.add_typer(tasks_app, name="tasks")


@tasks_app.command("list")
def tasks_list(
    incident: Annotated[str | None, typer.Option("--incident", help="Only this incident.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array.")] = False,
) -> None:
    """Open and answered tasks, oldest first."""
    from irp.db import session_scope
    from irp.redact import default_redactor
    from irp.response import manual

    say_where()
    with session_scope() as session:
        rows = [
            default_redactor().redact_data(t.model_dump(mode="json"))
            for t in manual.list_tasks(session, incident)
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no tasks")
        return
    typer.echo(_table(rows))


def _table(rows: list[dict[str, Any]]) -> str:
    cells = [[str(r.get(c) or "-") for c in COLUMNS] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
    lines = [COLUMNS, *cells]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines
    )


def _answer(
    task_id: int, outcome: str, by: str, note: str, evidence: str | None, code: str
) -> None:
    from deployments.task_answers import answer
    from irp.redact import default_redactor
    from irp.response.manual import TaskAnswer

    if not by:
        raise InvalidInput("--by: say who answers (a role id)")
    point_prefect_at_stack()
    say_where(prefect=True)
    task, resumed = answer(task_id, TaskAnswer(outcome, by, note, evidence, code))  # type: ignore[arg-type]
    after = "its run goes on" if resumed else "its run reads it when it next looks"
    typer.echo(
        default_redactor().redact(
            f"task {task.id} ({task.incident_id}): {outcome} by {by}; {after}"
        )
    )


@tasks_app.command("done")
def tasks_done(
    task: TaskId, by: By = "", note: Note = "", evidence: Evidence = None, code: Code = ""
) -> None:
    """The task is done (a note; an evidence reference when the task needs one)."""
    _answer(task, "done", by, note, evidence, code)


@tasks_app.command("fail")
def tasks_fail(
    task: TaskId, by: By = "", note: Note = "", evidence: Evidence = None, code: Code = ""
) -> None:
    """The task could not be done: it escalates like a failed action."""
    _answer(task, "failed", by, note, evidence, code)


@tasks_app.command("skip")
def tasks_skip(
    task: TaskId, by: By = "", note: Note = "", evidence: Evidence = None, code: Code = ""
) -> None:
    """The task does not apply to this incident (say why in the note)."""
    _answer(task, "not_applicable", by, note, evidence, code)
