"""Shared fixtures: a fresh IRP_HOME per test, irp's tables on SQLite and on PostgreSQL, one real
Prefect server per session.

Every test that may touch irp's tables runs twice, `[sqlite]` (the CLI's default without a
stack) and `[postgresql]` (what `irp up` ships: the embedded server, one fresh database per test
cloned from a migrated template). A module that never touches the database says so with
`pytestmark = pytest.mark.no_database` and runs once. `IRP_TEST_DATABASES=sqlite` (or
`postgresql`) narrows a local run to one of them; CI runs both.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from irp.stack import EmbeddedPostgres

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

DATABASES = ("sqlite", "postgresql")
TEMPLATE_DATABASE = "irp_test_template"
_database_numbers = itertools.count(1)


def _selected_databases() -> list[str]:
    wanted = os.environ.get("IRP_TEST_DATABASES", ",".join(DATABASES))
    chosen = [name.strip() for name in wanted.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(DATABASES))
    if unknown or not chosen:
        raise pytest.UsageError(
            f"IRP_TEST_DATABASES: expected sqlite and/or postgresql, got {wanted!r}"
        )
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("no_database"):
        return  # the `database` fixture then gives SQLite, which such a test never opens
    metafunc.parametrize("database", _selected_databases(), indirect=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """The embedded PostgreSQL `irp up` uses, started once, with a migrated template database.
    Its data lives outside pytest's temporary root, which another pytest session may make
    unreadable to the postgres user."""
    import psycopg
    from psycopg import sql

    from irp.db import dispose_engines, get_engine
    from irp.stack import start_embedded_postgres
    from tests.irp.processes import stack_home

    with stack_home() as folder:
        server = start_embedded_postgres(folder / "postgres")
        try:
            with psycopg.connect(server.libpq_uri(), autocommit=True) as conn:
                template = sql.Identifier(TEMPLATE_DATABASE)
                conn.execute(sql.SQL("CREATE DATABASE {}").format(template))
            get_engine(server.sqlalchemy_url("psycopg", TEMPLATE_DATABASE))
            dispose_engines()  # a template must have no open connections to be cloned
            yield server
        finally:
            server.stop()


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of this test's own, empty (migrated) irp database."""
    from irp.db import dispose_engines

    if getattr(request, "param", "sqlite") == "sqlite":
        yield ""  # settings default: SQLite under the test's IRP_HOME
        dispose_engines()
        return
    import psycopg
    from psycopg import sql

    server: EmbeddedPostgres = request.getfixturevalue("postgres_server")
    name = f"irp_test_{os.getpid()}_{next(_database_numbers)}"
    with psycopg.connect(server.libpq_uri(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE_DATABASE)
            )
        )
    yield server.sqlalchemy_url("psycopg", name)
    dispose_engines()
    with psycopg.connect(server.libpq_uri(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(autouse=True)
def irp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str) -> Iterator[Path]:
    """Every test gets its own IRP_HOME (reports, evidence) and its own irp database."""
    from irp.plan.loader import _cached_plan
    from irp.settings import get_settings

    home = tmp_path / "irp-home"
    monkeypatch.setenv("IRP_HOME", str(home))
    if database:
        monkeypatch.setenv("IRP_DATABASE_URL", database)
    else:
        monkeypatch.delenv("IRP_DATABASE_URL", raising=False)
    monkeypatch.setenv("IRP_GATE_POLL_INTERVAL_S", "0.2")
    monkeypatch.setenv("IRP_GATE_CODES", "false")  # proven answers: tests/identity turns them on
    get_settings.cache_clear()
    _cached_plan.cache_clear()
    yield home
    get_settings.cache_clear()
    _cached_plan.cache_clear()


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server (a subprocess) for the whole session; flows run against it."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        api_url = str(PREFECT_API_URL.value())
        # Child processes and threads (the CLI, workers) reach the same server.
        os.environ["PREFECT_API_URL"] = api_url
        try:
            yield api_url
        finally:
            os.environ.pop("PREFECT_API_URL", None)
