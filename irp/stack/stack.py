"""The local stack: an embedded PostgreSQL and a Prefect server on it, plus whatever children
the caller adds (serve, the webhook), all supervised.

Plain subprocesses, no Prefect imports: each child runs in its own session so that stopping
it takes its descendants with it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from irp.prefect_auth import auth_file, basic_auth_header, load_or_create
from irp.stack.errors import StackError
from irp.stack.leftovers import STACK_ID_VARIABLE, RunRecord, stop_leftovers
from irp.stack.postgres import (
    IRP_DATABASE,
    POSTGRES_NAME,
    READY_DEADLINE_S,
    EmbeddedPostgres,
    prepare,
)
from irp.stack.processes import (
    STOP_TIMEOUT_S,
    Child,
    ProcessSpec,
    check_port_free,
    http_ok,
    url_host,
)
from irp.stack.supervisor import Echo, Ready, Supervisor

SERVER_NAME = "prefect-server"
HEALTH_DEADLINE_S = 60.0
_NO_PROXY_HOSTS = "127.0.0.1,localhost,::1"


@dataclass
class StackConfig:
    """Where the stack keeps its state and where the Prefect server listens."""

    home: Path
    host: str = "127.0.0.1"
    prefect_port: int = 4200
    database_url: str | None = None
    ui: bool = True
    auth_string: str | None = field(default=None, repr=False)
    """The API's secret when given (IRP_PREFECT_AUTH_STRING); else kept in `auth_file`."""

    def __post_init__(self) -> None:
        # Children run with other working directories: every path handed to them is absolute.
        self.home = Path(self.home).expanduser().resolve()
        self.auth_string = self.auth_string or None

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def auth_file(self) -> Path | None:
        """Where the API's secret is kept; None when it was given in the environment."""
        return auth_file(self.home) if self.auth_string is None else None

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def base_url(self) -> str:
        return f"http://{url_host(self.host)}:{self.prefect_port}"


def prefect_server_env(config: StackConfig, db_url: str, auth_string: str) -> dict[str, str]:
    """Prefect settings for the server's clients: state under home, offline, quiet, and the
    API's secret (the server itself also gets it as PREFECT_SERVER_API_AUTH_STRING)."""
    ui_enabled = "true" if config.ui else "false"
    return {
        "PREFECT_API_AUTH_STRING": auth_string,
        "PREFECT_HOME": str(config.prefect_home),
        "PREFECT_PROFILES_PATH": str(config.prefect_home / "profiles.toml"),
        "PREFECT_API_URL": config.api_url,
        "PREFECT_UI_URL": config.base_url,
        "PREFECT_UI_API_URL": config.api_url,
        "PREFECT_SERVER_UI_API_URL": config.api_url,
        "PREFECT_UI_ENABLED": ui_enabled,
        "PREFECT_SERVER_UI_ENABLED": ui_enabled,
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": db_url,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": db_url,
        "PREFECT_SERVER_API_HOST": config.host,
        "PREFECT_SERVER_API_PORT": str(config.prefect_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_CLI_PROMPT": "false",
        "PREFECT_CLI_COLORS": "false",
        "PREFECT_LOGGING_COLORS": "false",
    }


def _no_proxy(env: Mapping[str, str]) -> str:
    existing = env.get("NO_PROXY") or env.get("no_proxy") or ""
    return ",".join(p for p in (existing, _NO_PROXY_HOSTS) if p)


def _answers(url: str) -> Ready:
    def ready(_child: Child) -> bool:
        return http_ok(url)

    return ready


class Stack:
    """Embedded PostgreSQL (unless `database_url`) plus `prefect server start`, plus children,
    each restarted when it exits. `echo` receives what `irp up` prints (restarts, stops)."""

    def __init__(self, config: StackConfig, *, echo: Echo = print) -> None:
        self.config = config
        self.postgres: EmbeddedPostgres | None = None
        self.supervisor = Supervisor(echo)
        self.env: dict[str, str] = dict(os.environ)  # the client environment once started
        self._auth_string: str | None = None

    @property
    def api_url(self) -> str:
        return self.config.api_url

    @property
    def ui_url(self) -> str:
        return self.config.base_url

    @property
    def auth_string(self) -> str:
        """The secret the server enforces: given, or read (made on the first start) from the
        stack's auth file."""
        if self._auth_string is None:
            given = self.config.auth_string
            self._auth_string = given or load_or_create(auth_file(self.config.home))
        return self._auth_string

    @property
    def api_headers(self) -> dict[str, str]:
        """For plain HTTP calls to the stack's Prefect API."""
        return basic_auth_header(self.auth_string)

    @property
    def processes(self) -> list[Child]:
        """The children running now, in start order."""
        return self.supervisor.children

    def process(self, name: str) -> Child | None:
        entry = self.supervisor.entries.get(name)
        return entry.child if entry is not None else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop_on_signals(self) -> AbstractContextManager[None]:
        """SIGINT, SIGTERM and SIGHUP stop the stack (from the main thread only)."""
        return self.supervisor.stop_on_signals()

    def begin(self, leftover_timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Claim the home: stop what a previous stack left running there (refuse while its
        `irp up` still runs), record this stack and mark every child's environment with
        its id. `start` does this first; bare stacks (tests) call it themselves."""
        cfg = self.config
        for directory in (cfg.home, cfg.logs_dir, cfg.prefect_home, cfg.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
        stopped = stop_leftovers(cfg.run_dir, leftover_timeout_s)
        if stopped:
            self.supervisor.say(
                "irp: stopped what a previous irp up left running: " + ", ".join(stopped)
            )
        record = RunRecord.new(cfg.run_dir)
        record.save()
        self.supervisor.record = record
        self.env = dict(os.environ)
        self.env[STACK_ID_VARIABLE] = record.stack_id
        self.env["PYTHONUNBUFFERED"] = "1"  # a child's last words reach its log

    def start(self, deadline_s: float = HEALTH_DEADLINE_S) -> None:
        """Stop a previous stack's leftovers, start PostgreSQL and the Prefect server; return
        once `/api/health` answers 200."""
        cfg = self.config
        try:
            self.begin()
            check_port_free(cfg.host, cfg.prefect_port)
            if cfg.database_url is None:
                self.postgres = prepare(cfg.postgres_dir)
                postgres = self.postgres
                self.supervisor.start(
                    postgres.spec(self.env),
                    cfg.logs_dir / f"{POSTGRES_NAME}.log",
                    postgres.ready,
                    READY_DEADLINE_S,
                )
                postgres.ensure_database(IRP_DATABASE)
                db_url = postgres.sqlalchemy_url("asyncpg")
            else:
                db_url = cfg.database_url
            self.env = self._client_env(db_url)
            self.add_process(
                SERVER_NAME,
                [sys.executable, "-m", "prefect", "server", "start"]
                + ["--host", cfg.host, "--port", str(cfg.prefect_port)],
                {"PREFECT_SERVER_API_AUTH_STRING": self.auth_string},
                cwd=cfg.prefect_home,  # `-m` puts the cwd on sys.path: keep stray modules out
                ready_url=f"{self.api_url}/health",
                ready_deadline_s=deadline_s,
                when_down="alerts are still accepted; they are dispatched once it is back",
            )
        except StackError:
            self.stop()
            self.supervisor.check_stop()  # a signal caused the failure: report the stop
            raise
        except BaseException:
            self.stop()
            raise

    def _client_env(self, db_url: str) -> dict[str, str]:
        env = dict(self.env)
        env.update(prefect_server_env(self.config, db_url, self.auth_string))
        env.pop("PREFECT_API_KEY", None)  # it would win over the auth string: 401 everywhere
        env["IRP_HOME"] = str(self.config.home)
        if self.postgres is not None:
            env["IRP_DATABASE_URL"] = self.postgres.irp_url
        no_proxy = _no_proxy(env)
        env["NO_PROXY"] = env["no_proxy"] = no_proxy
        return env

    def add_process(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        ready_url: str | None = None,
        ready: Ready | None = None,
        ready_deadline_s: float = HEALTH_DEADLINE_S,
        title: str = "",
        when_down: str = "",
    ) -> Child:
        """Start a supervised child (restarted if it exits, stopped with the stack); `env` is
        merged over `self.env`. Output goes to `home/logs/<name>.log`.

        Waits until `ready_url` answers 200 (or `ready(child)` is true) and raises StackError,
        quoting the log, if the child exits or the deadline passes first.
        """
        if ready is None and ready_url is not None:
            ready = _answers(ready_url)
        spec = ProcessSpec(
            name=name,
            argv=tuple(argv),
            env={**self.env, **(env or {})},
            cwd=cwd,
            title=title,
            when_down=when_down,
        )
        return self.supervisor.start(
            spec, self.config.logs_dir / f"{name}.log", ready, ready_deadline_s
        )

    def remove_process(self, name: str) -> None:
        """Stop one child for good (benchmarks swap serve for one with other settings)."""
        self.supervisor.remove(name)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop children in reverse start order (PostgreSQL last). Safe to call twice."""
        self.supervisor.stop(timeout_s)
        if self.supervisor.record is not None:
            self.supervisor.record.remove()
            self.supervisor.record = None
        self.postgres = None

    def run_forever(self, poll_s: float = 0.2) -> None:
        """Keep every child up until SIGINT, SIGTERM or SIGHUP, then stop them all."""
        try:
            with self.stop_on_signals():
                self.supervisor.run(poll_s)
                self.stop()
        finally:
            self.stop()
