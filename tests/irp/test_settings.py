"""Reading the settings writes no environment and asks no server; pointing Prefect at the stack
and deciding the database are the explicit calls that do. A real stack.json names this test
process as the stack's pid and a real HTTP server on 127.0.0.1 as its Prefect API."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from irp.prefect_auth import load_or_create
from irp.settings import (
    Settings,
    database_url_in_use,
    get_settings,
    point_prefect_at_stack,
    stack_file,
)

pytestmark = pytest.mark.no_database

WATCHED = ("socket.connect", "os.kill", "os.putenv", "os.unsetenv", "open")
_recording: list[list[tuple[str, str]]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _recording and event in WATCHED:
        target = str(args[0]) if args else ""
        if event != "open" or target.endswith("stack.json"):
            _recording[-1].append((event, target))


sys.addaudithook(_audit)  # audit hooks stay for the process: it records only inside `audited`


@contextmanager
def audited() -> Iterator[list[tuple[str, str]]]:
    """Network connections, signals to processes, environment writes and reads of stack.json
    made by this process while the block runs."""
    events: list[tuple[str, str]] = []
    _recording.append(events)
    try:
        yield events
    finally:
        _recording.remove(events)


@pytest.fixture
def prefect_health() -> Iterator[tuple[str, list[str]]]:
    """A Prefect API stand-in that answers its health check and counts every request."""
    paths: list[str] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"true")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", paths
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def running_stack(
    irp_home: Path, prefect_health: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> tuple[str, list[str]]:
    """stack.json as a running `irp up` leaves it; the Prefect variables are restored after."""
    for name in (
        "PREFECT_API_URL",
        "PREFECT_HOME",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY",
        "PREFECT_API_AUTH_STRING",
        "IRP_PREFECT_AUTH_STRING",
    ):
        monkeypatch.setenv(name, "")  # restored (or removed) after the test
        monkeypatch.delenv(name)
    api_url, _ = prefect_health
    path = stack_file()
    path.parent.mkdir(parents=True)
    stack = {
        "pid": os.getpid(),
        "api_url": api_url,
        "irp_database_url": "sqlite:///stack.db",
        "prefect_auth_file": str(irp_home / "prefect-auth"),
    }
    path.write_text(json.dumps(stack), encoding="utf-8")
    get_settings.cache_clear()
    return prefect_health


def test_reading_every_setting_writes_nothing_and_asks_no_server(
    running_stack: tuple[str, list[str]],
) -> None:
    _, requests = running_stack
    properties = [
        name
        for name, member in vars(Settings).items()
        if isinstance(member, property | cached_property)
    ]
    assert {"resolved_home", "prefect_home"} <= set(properties)
    environ = dict(os.environ)
    with audited() as events:
        settings = get_settings()
        values = [getattr(settings, name) for name in [*Settings.model_fields, *properties]]
    assert values and dict(os.environ) == environ
    assert events == []  # no connection, no stack.json read, no pid probed
    assert requests == []


def test_pointing_prefect_at_the_stack_is_the_call_that_writes_and_asks(
    running_stack: tuple[str, list[str]], irp_home: Path
) -> None:
    api_url, requests = running_stack
    with audited() as events:
        point_prefect_at_stack()
    assert os.environ["PREFECT_API_URL"] == api_url
    assert os.environ["PREFECT_HOME"] == str(irp_home / "prefect")
    assert os.environ["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    assert requests == ["/api/health"]
    kinds = {event for event, _ in events}
    assert {"socket.connect", "os.putenv", "open", "os.kill"} <= kinds


def test_a_stack_whose_process_is_gone_is_not_asked(
    running_stack: tuple[str, list[str]],
) -> None:
    _, requests = running_stack
    path = stack_file()
    path.write_text(json.dumps({**json.loads(path.read_text()), "pid": 2**22 + 1}))
    point_prefect_at_stack()
    assert "PREFECT_API_URL" not in os.environ
    assert requests == []


def test_the_database_is_decided_once_from_the_stack(
    running_stack: tuple[str, list[str]], irp_home: Path
) -> None:
    """A run never switches databases midway, even when the stack stops."""
    assert database_url_in_use() == "sqlite:///stack.db"
    stack_file().unlink()
    assert database_url_in_use() == "sqlite:///stack.db"
    get_settings.cache_clear()  # a new process
    assert database_url_in_use() == f"sqlite:///{irp_home / 'irp.db'}"


def test_the_stack_secret_goes_to_the_stack_api_only(
    running_stack: tuple[str, list[str]], irp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI presents the secret in the file stack.json names to that stack's API, and
    never to another server PREFECT_API_URL points at."""
    secret = load_or_create(irp_home / "prefect-auth")
    point_prefect_at_stack()
    assert os.environ["PREFECT_API_AUTH_STRING"] == secret

    del os.environ["PREFECT_API_AUTH_STRING"]
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.elsewhere:4200/api")
    point_prefect_at_stack()
    assert "PREFECT_API_AUTH_STRING" not in os.environ


def test_a_secret_given_in_the_environment_wins(
    running_stack: tuple[str, list[str]], irp_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_or_create(irp_home / "prefect-auth")
    monkeypatch.setenv("PREFECT_API_URL", "https://prefect.example/api")
    monkeypatch.setenv("IRP_PREFECT_AUTH_STRING", "ops:from-the-vault")
    get_settings.cache_clear()
    point_prefect_at_stack()
    assert os.environ["PREFECT_API_AUTH_STRING"] == "ops:from-the-vault"
