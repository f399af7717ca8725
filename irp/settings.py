"""Runtime settings: one class, read from `IRP_*` environment variables, cached."""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from irp.prefect_auth import read_auth_file

HEARTBEAT_S = 30


class Settings(BaseSettings):
    """Where irp keeps its state and how it reaches its database and plan."""

    model_config = SettingsConfigDict(env_prefix="IRP_", extra="ignore")

    home: Path = Field(default=Path(".irp"), description="All state lives here.")
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite (WAL) under home."
    )
    plan_file: Path | None = Field(
        default=None, description="Plan YAML; default is the shipped plan."
    )
    gate_poll_interval_s: float = Field(
        default=0.25,
        gt=0,
        description="How often a paused gate or tasks form looks for an answer: an answer waits "
        "for this tick (and a CLI answer arriving while the run re-pauses, for one more), so it "
        "is most of the time from an answer to the run going on (issue 11: < 2 s).",
    )
    gate_suspend: bool = Field(
        default=True,
        description="A deployment run waiting at a gate suspends (frees its process) instead of pausing.",
    )
    run_limit: int = Field(
        default=16,
        ge=1,
        description="`irp up`: flow runs executing at once on this machine (each is a process of "
        "about 150 MB); more wait Scheduled. Suspended runs hold no slot.",
    )
    gate_suspend_after_s: float = Field(
        default=60.0,
        ge=0,
        description="A deployment run first waits this long in-process at a gate (a quick answer "
        "resumes it in about a second), then suspends: restarting its process takes seconds.",
    )
    run_heartbeat_timeout_s: float = Field(
        default=90.0,
        ge=30,
        description="A served run whose heartbeats (every 30 s) stop this long is marked Crashed "
        "by a Prefect automation, and its incident is recovered by a new run.",
    )
    prefect_port: int = Field(default=4200, ge=1, le=65535, description="`irp up`: Prefect port.")
    prefect_auth_string: SecretStr | None = Field(
        default=None,
        description="The Prefect API's secret (`user:password`): `irp up` enforces it instead of "
        "making its own; clients of an external server present it.",
    )
    prefect_ui_url: str | None = Field(
        default=None, description="Base URL of the Prefect UI for links."
    )
    webhook_host: str = Field(default="127.0.0.1", description="Alert webhook bind address.")
    webhook_port: int = Field(default=8765, ge=0, le=65535, description="Alert webhook port.")
    webhook_token: SecretStr | None = Field(
        default=None, description="Bearer token (or Basic password) alert senders present."
    )
    webhook_basic_user: str = Field(default="alertmanager", description="Basic-auth user name.")
    webhook_hmac_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 secret (Standard Webhooks, Grafana)."
    )
    webhook_token_block: str | None = Field(
        default=None,
        description="Prefect Secret block holding the token, if not in the environment.",
    )
    webhook_hmac_secret_block: str | None = Field(
        default=None,
        description="Prefect Secret block holding the HMAC secret, if not in the environment.",
    )
    webhook_max_body: int = Field(default=1 << 20, gt=0, description="Largest body, bytes.")
    webhook_local_demo: bool = Field(
        default=False, description="Accept unauthenticated alerts (local demo only)."
    )
    gate_codes: bool = Field(
        default=True,
        description="A person answers a gate with the one-time code or signed link sent to "
        "their own channel (issue 12); false: the role alone, as before (tests of other parts).",
    )
    identity_key: SecretStr | None = Field(
        default=None,
        description="Key that hashes codes and signs gate links; default: a 0600 file under "
        "home (run/identity.key). Every irp process of one stack must share it.",
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL people reach the webhook app at, for gate links; default: "
        "http://webhook_host:webhook_port.",
    )
    _decided_database_url: str | None = PrivateAttr(default=None)

    @cached_property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def reports_dir(self) -> Path:
        return self.resolved_home / "reports"

    @property
    def evidence_dir(self) -> Path:
        return self.resolved_home / "evidence"

    @property
    def prefect_home(self) -> Path:
        return self.resolved_home / "prefect"


@lru_cache
def get_settings() -> Settings:
    """Computed from `IRP_*` variables alone: reading it writes nothing and asks no server."""
    return Settings()


def database_url_in_use(settings: Settings | None = None) -> str:
    """The database this process uses: IRP_DATABASE_URL, else the PostgreSQL of a running
    `irp up`, else SQLite under home. Decided on the first call and kept with the settings: a
    run never switches databases midway, even if a stack starts or stops while it works."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if settings._decided_database_url is None:
        settings._decided_database_url = (
            running_stack_database_url(settings) or f"sqlite:///{settings.resolved_home / 'irp.db'}"
        )
    return settings._decided_database_url


def point_prefect_at_stack(settings: Settings | None = None) -> None:
    """Called once by each entry point (the CLI's Prefect commands, serve, the webhook) before
    Prefect is imported: keep Prefect's state under IRP_HOME, stay offline, beat every 30 s,
    and talk to the stack `irp up` started if it answers (else Prefect starts a temporary
    server), presenting the API's secret (`prefect_auth_string`). Variables already set win."""
    settings = settings or get_settings()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(settings.prefect_home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Flow runs prove they are alive every 30 s (Prefect's minimum; its default is 180 s):
    # the serve process's automation marks a run Crashed when they stop (deployments/recovery.py).
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_S))
    if "PREFECT_API_URL" not in os.environ:
        api_url = running_stack_api_url(settings)
        if api_url:
            os.environ["PREFECT_API_URL"] = api_url
    if "PREFECT_API_AUTH_STRING" not in os.environ:
        secret = prefect_auth_string(settings, os.environ.get("PREFECT_API_URL"))
        if secret:
            os.environ["PREFECT_API_AUTH_STRING"] = secret


def prefect_auth_string(settings: Settings, api_url: str | None) -> str | None:
    """The secret to present to `api_url`: IRP_PREFECT_AUTH_STRING, else the one in the file a
    running stack names, if `api_url` is that stack's (never sent to another server)."""
    if settings.prefect_auth_string is not None:
        return settings.prefect_auth_string.get_secret_value()
    stack = running_stack(settings) or {}
    file = stack.get("prefect_auth_file")
    if not file or not api_url or stack.get("api_url") != api_url:
        return None
    try:
        return read_auth_file(Path(str(file)))
    except OSError:  # not this user's stack: the server will answer 401, said by the caller
        return None


def stack_file(settings: Settings | None = None) -> Path:
    """Written by `irp up` while it runs: how clients reach its Prefect API."""
    return (settings or get_settings()).resolved_home / "run" / "stack.json"


def running_stack(settings: Settings) -> dict[str, object] | None:
    """What `irp up` wrote in stack.json, if its process is still alive."""
    try:
        data = json.loads(stack_file(settings).read_text(encoding="utf-8"))
        pid = int(data.get("pid", 0))
        if pid <= 0:
            return None
        os.kill(pid, 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return data if isinstance(data, dict) else None


def running_stack_database_url(settings: Settings) -> str | None:
    """irp's database in the PostgreSQL of a running `irp up` (its process still alive)."""
    url = (running_stack(settings) or {}).get("irp_database_url")
    return str(url) if url else None


def running_stack_api_url(settings: Settings | None = None) -> str | None:
    """The Prefect API of a running `irp up` if it answers its health check (up to a second);
    a stack whose process is gone is not asked."""
    api_url = (running_stack(settings or get_settings()) or {}).get("api_url")
    if not api_url:
        return None
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=1) as response:  # noqa: S310
            return str(api_url) if response.status == 200 else None
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Whereabouts:
    """Which state a command works on: told to the person so an empty home is no surprise."""

    home: Path
    home_from_env: bool
    home_exists: bool
    database: str
    """Where irp's tables are, password hidden."""
    database_from_env: bool
    database_from_stack: bool
    stack_running: bool
    prefect_api_url: str | None
    """The Prefect API a command would use (after `point_prefect_at_stack`); None: Prefect
    would start a temporary server."""
    prefect_api_from_env: bool


def whereabouts(settings: Settings | None = None) -> Whereabouts:
    """Where this process's state is: the database it decided on, whether the stack's process
    lives, and the Prefect API this process points at. Asks no server."""
    settings = settings or get_settings()
    stack = running_stack(settings)
    stack_db = stack.get("irp_database_url") if stack and settings.database_url is None else None
    return Whereabouts(
        home=settings.resolved_home,
        home_from_env="IRP_HOME" in os.environ,
        home_exists=settings.resolved_home.is_dir(),
        database=_without_password(database_url_in_use(settings)),
        database_from_env=settings.database_url is not None,
        database_from_stack=bool(stack_db),
        stack_running=stack is not None,
        prefect_api_url=os.environ.get("PREFECT_API_URL"),
        prefect_api_from_env="PREFECT_API_URL" in os.environ,
    )


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (an unparsable URL is shown by its scheme only)
        return url.split(":", 1)[0] + ":..."
