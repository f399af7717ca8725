"""One host at a time for work every serve host would otherwise do at once: a PostgreSQL
advisory lock held by a transaction on irp's database, released when the transaction ends (also
when its process dies). SQLite is one host: no lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from irp.db import get_engine

DEADLINE_PASS = 7400214  # one deadline pass (migrations hold 7400201)
CRASH_AUTOMATION = 7400215  # creating Prefect's zombie automation once


@contextmanager
def one_host(key: int, *, wait: bool = False) -> Iterator[bool]:
    """Yield True while this process holds lock `key`; False at once if another holds it,
    unless `wait`."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.begin() as connection:
        if wait:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            yield True
        else:
            query = text("SELECT pg_try_advisory_xact_lock(:key)")
            yield bool(connection.execute(query, {"key": key}).scalar())
