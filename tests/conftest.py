"""Shared fixtures: a fresh IRP_HOME (SQLite, reports) per test, one real Prefect server per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(autouse=True)
def irp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own IRP_HOME: its own database, reports and evidence."""
    from irp.plan import _cached_plan
    from irp.settings import get_settings

    home = tmp_path / "irp-home"
    monkeypatch.setenv("IRP_HOME", str(home))
    monkeypatch.delenv("IRP_DATABASE_URL", raising=False)
    monkeypatch.setenv("IRP_GATE_POLL_INTERVAL_S", "0.2")
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
