"""A process skips Alembic only when the database is at exactly this code's heads."""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from irp.db import MIGRATIONS_DIR, dispose_engines, get_engine
from migrations import HEADS


@pytest.mark.no_database
def test_the_heads_irp_trusts_are_the_scripts_heads() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert set(ScriptDirectory.from_config(config).get_heads()) == set(HEADS)


def test_a_database_behind_the_heads_is_migrated() -> None:
    with get_engine().begin() as connection:  # as if an older irp had left it at 0010
        connection.execute(text("DROP TABLE report_part"))
        connection.execute(
            text(
                "UPDATE alembic_version SET version_num = '0010_tasks_manual_task'"
                " WHERE version_num = '0011_duties_report_parts'"
            )
        )
    dispose_engines()  # the next use is a new process of this code

    with get_engine().connect() as connection:
        versions = set(
            connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        )
        parts = connection.execute(text("SELECT count(*) FROM report_part")).scalar()
    assert versions == set(HEADS)
    assert parts == 0
