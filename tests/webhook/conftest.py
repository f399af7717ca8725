"""Webhook fixtures: settings with a token, a recorder of dispatches, the app served live."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from deployments.webhook import create_app
from irp.settings import Settings, get_settings
from models.enums import IncidentType
from tests.webhook.server import serve

TOKEN = "test-token-0123456789"
HMAC_SECRET = "test-hmac-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Dispatches:
    """A dispatch function that records calls instead of reaching Prefect."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, IncidentType]] = []
        self._lock = threading.Lock()
        self.done = threading.Condition(self._lock)

    def __call__(self, incident_id: str, incident_type: IncidentType, run_name: str) -> str:
        with self._lock:
            self.calls.append((incident_id, incident_type))
            self.done.notify_all()
            return f"run-{incident_id}"

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[tuple[str, IncidentType]]:
        with self._lock:
            self.done.wait_for(lambda: len(self.calls) >= count, timeout_s)
            return list(self.calls)


@pytest.fixture
def settings(irp_home: Path) -> Settings:
    base = get_settings()
    return base.model_copy(
        update={"webhook_token": SecretStr(TOKEN), "webhook_hmac_secret": SecretStr(HMAC_SECRET)}
    )


@pytest.fixture
def dispatches() -> Dispatches:
    return Dispatches()


@pytest.fixture
def app(settings: Settings, dispatches: Dispatches) -> FastAPI:
    return create_app(settings, dispatch=dispatches)


@pytest.fixture
def live(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture
def make_live(settings: Settings) -> Callable[..., object]:
    return lambda **kw: serve(create_app(settings, **kw))
