"""Alembic environment: runs on the connection irp.db hands over, or on IRP settings."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel, create_engine

import models  # noqa: F401  (registers every table)

target_metadata = SQLModel.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from irp.settings import database_url_in_use

    engine = create_engine(database_url_in_use())
    with engine.begin() as conn:
        _run(conn)
