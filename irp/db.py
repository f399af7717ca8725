"""Database engine and sessions. SQLite runs in WAL mode; the schema comes from Alembic."""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

import models  # noqa: F401  (registers every table on SQLModel.metadata)
from irp.settings import database_url_in_use
from migrations import HEADS

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
log = logging.getLogger("irp.db")


_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_migrate_lock = threading.Lock()
_engines_lock = threading.Lock()


def _engine(url: str) -> Engine:
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create_engine(url)
        return engine


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (a database about to be dropped,
    or a process about to fork, must not keep connections)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: settings), migrated to the latest schema once per process."""
    url = url or database_url_in_use()
    engine = _engine(url)
    if url not in _migrated:
        with _migrate_lock:
            if url not in _migrated:
                if not _at_heads(engine):
                    migrate(engine)
                _migrated.add(url)
    return engine


def _at_heads(engine: Engine) -> bool:
    """The schema is exactly this code's (one query, no Alembic): nothing to migrate."""
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            return frozenset(found) == HEADS
    except DBAPIError:  # a new database: no alembic_version table yet
        return False


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the Alembic heads; an upgrade never drops incidents. Processes
    starting together (webhook app, workers) take turns: a file lock for SQLite, an advisory
    lock for PostgreSQL. A schema newer than this code (a host not yet upgraded in a rolling
    upgrade) is used as it is, with a warning: migrations are additive (docs/operations.md)."""
    from alembic import command  # imported here: a flow run reaches Running sooner
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _process_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7400201)"))
        unknown = _unknown_revisions(config, connection)
        if unknown:
            log.warning(
                "irp's database schema is newer than this code (revision %s unknown here): "
                "running on it without migrating; upgrade this host",
                ", ".join(unknown),
            )
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


def _unknown_revisions(config: Any, connection: Any) -> list[str]:
    """The database's Alembic revisions this code's migrations do not contain."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(config)
    unknown = []
    for revision in MigrationContext.configure(connection).get_current_heads():
        try:
            script.get_revision(revision)
        except CommandError:
            unknown.append(revision)
    return unknown


@contextmanager
def _process_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_ignore(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True if the row went in."""
    return insert_new(session, table, values) is not None


def insert_new(session: Session, table: Table, values: dict[str, Any]) -> Any | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the primary key: the new row's key, or None
    if a row with that key or a unique value exists. RETURNING, not rowcount: psycopg 3
    reports rowcount -1 for a new row and a conflict alike."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    key = next(iter(table.primary_key.columns))
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).scalar()
