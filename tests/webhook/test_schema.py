"""The migrations build the tables the models describe (alerts, the chained timeline), on the
database in use."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from irp.db import get_engine

CHECKED_TABLES = {"alert", "seen_webhook_message", "open_incident_group", "timeline_event"}


def table_of(diff: Any) -> str | None:
    """The table a compare_metadata entry is about: `("add_column", schema, table, column)`,
    `("add_table", Table)`, `("add_index", Index)`, or a list of `modify_*` tuples."""
    entry = diff[0] if isinstance(diff, list) else diff
    for part in entry[1:]:
        if isinstance(part, sa.Table):
            return str(part.name)
        if isinstance(part, sa.Index | sa.Constraint) and part.table is not None:
            return str(part.table.name)
    return entry[2] if len(entry) > 2 and isinstance(entry[2], str) else None


def test_migrated_tables_match_the_models(irp_home: object) -> None:
    with get_engine().connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in diffs if table_of(d) in CHECKED_TABLES] == []
