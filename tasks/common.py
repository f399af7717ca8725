"""Policy shared by irp's tasks: database work retries briefly, results are not cached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")

# The database is the idempotency record; Prefect's cache must not skip a step the database
# says is still to do.
DB_TASK: dict[str, Any] = {"retries": 2, "retry_delay_seconds": [0.5, 2], "cache_policy": NO_CACHE}


def publish(documents: dict[str, tuple[str, str | pd.DataFrame]]) -> None:
    """Prefect artifacts, by key (lowercase, digits, dashes): (description, Markdown text or a
    table). A table's NaN become null: artifacts are JSON."""
    for key, (description, content) in documents.items():
        if isinstance(content, str):
            create_markdown_artifact(content, key=key, description=description)
            continue
        rows = content.astype(object).where(content.notna(), None)
        create_table_artifact(rows.to_dict(orient="records"), key=key, description=description)


def untracked(value: T) -> T:
    """A task argument Prefect passes through without walking it. Prefect visits every
    argument looking for futures; the plan is a large model that holds none, and walking it
    on each of a drill's ~17 task calls cost about a third of the drill's time."""
    return cast(T, quote(value))
