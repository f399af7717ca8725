"""Policy shared by irp's tasks: database work retries briefly, results are not cached."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeVar, cast

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_UI_URL
from prefect.utilities.annotations import quote

from irp.errors import IrpError
from irp.redact import RedactingFilter
from irp.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd

    from irp.redact import Redactor

T = TypeVar("T")


class DomainErrorsInOneLine(logging.Filter):
    """A domain error (IrpError) is raised on purpose and its message says what failed and
    what stands: the run log keeps that line and drops the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], IrpError):
            record.exc_info, record.exc_text = None, None
        return True


# Run logs go to the terminal and to the Prefect API and its UI: masked before they leave.
for _run_logger in ("prefect.flow_runs", "prefect.task_runs"):
    logging.getLogger(_run_logger).addFilter(DomainErrorsInOneLine())
    logging.getLogger(_run_logger).addFilter(RedactingFilter())

# The database is the idempotency record; Prefect's cache must not skip a step the database
# says is still to do.
DB_TASK: dict[str, Any] = {"retries": 2, "retry_delay_seconds": [0.5, 2], "cache_policy": NO_CACHE}


Records = list[dict[str, Any]]


def publish(
    documents: dict[str, tuple[str, str | pd.DataFrame | Records]], redactor: Redactor
) -> None:
    """Prefect artifacts, by key (lowercase, digits, dashes): (description, Markdown text or a
    table as a frame or as records), masked here: the one door through which artifacts leave
    irp. A frame's NaN become null: artifacts are JSON."""
    for key, (description, content) in documents.items():
        if isinstance(content, str):
            create_markdown_artifact(redactor.redact(content), key=key, description=description)
            continue
        if not isinstance(content, list):
            rows = content.astype(object).where(content.notna(), None)
            content = rows.to_dict(orient="records")
        create_table_artifact(redactor.redact_data(content), key=key, description=description)


def untracked(value: T) -> T:
    """A task argument Prefect passes through without walking it. Prefect visits every
    argument looking for futures; the plan is a large model that holds none, and walking it
    on each of a drill's ~17 task calls cost about a third of the drill's time."""
    return cast(T, quote(value))


def run_link(flow_run_id: str | None) -> str | None:
    """The run's page in the Prefect UI: IRP_PREFECT_UI_URL, else the UI Prefect itself knows."""
    if not flow_run_id:
        return None
    base = get_settings().prefect_ui_url or PREFECT_UI_URL.value()
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}" if base else None
