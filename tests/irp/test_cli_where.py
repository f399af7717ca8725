"""Every stateful command says on stderr which home, stack and database it uses; stdout stays
the command's own (pure JSON with --json). On each database: SQLite is the default without a
stack, PostgreSQL what a stack (or IRP_DATABASE_URL) gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from irp.cli.main import main
from irp.settings import get_settings, stack_file

ROOT = Path(__file__).resolve().parents[2]


def write_stack_file(home: Path, **fields: object) -> None:
    """What a running `irp up` leaves for clients; this test process stands in as its pid."""
    get_settings.cache_clear()
    path = stack_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": os.getpid(), **fields}), encoding="utf-8")


def test_no_stack_is_a_warning_on_stderr_and_json_stays_pure(
    irp_home: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "list", "--json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out) == []
    (line,) = printed.err.splitlines()
    if database:  # IRP_DATABASE_URL names it: no stack needed, nothing to warn about
        assert line.startswith(f"irp: home {irp_home} (new, empty), no stack, configured by")
        assert "database postgresql+psycopg://postgres@/irp_test_" in line
        return
    assert line.startswith(f"irp: warning: no stack running for home {irp_home} (new, empty)")
    assert f"database sqlite:///{irp_home}/irp.db" in line
    assert "`irp up`" in line and "IRP_HOME" in line


def test_a_running_stack_is_named_with_its_database(
    irp_home: Path,
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The stack's database is the one stack.json names (PostgreSQL when `irp up` runs)."""
    monkeypatch.delenv("IRP_DATABASE_URL", raising=False)
    write_stack_file(irp_home, irp_database_url=database or f"sqlite:///{tmp_path / 'stack.db'}")
    assert main(["alerts", "list", "--json"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out) == []
    assert printed.err.splitlines() == [
        f"irp: home {irp_home}, stack running: database the stack's PostgreSQL"
    ]
    if not database:
        assert (tmp_path / "stack.db").exists()  # the command did use the stack's database


def test_a_dead_stack_is_no_stack(
    irp_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("IRP_DATABASE_URL", raising=False)
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    write_stack_file(irp_home, irp_database_url="sqlite:///nowhere.db")
    stack_file().write_text(json.dumps({"pid": int(exited.stdout)}), encoding="utf-8")
    assert main(["notifications", "failed"]) == 0
    assert "warning: no stack running" in capsys.readouterr().err


def test_a_password_in_the_database_url_is_not_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from irp.cli.where import where_line
    from irp.settings import whereabouts

    monkeypatch.setenv("IRP_DATABASE_URL", "postgresql+psycopg://irp:s3cret@db.example:5432/irp")
    get_settings.cache_clear()
    line = where_line(whereabouts(), prefect=False)
    assert "s3cret" not in line and "irp:***@db.example" in line
    assert "configured by the environment" in line and "warning" not in line


def test_prefect_commands_say_when_prefect_would_be_a_temporary_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from irp.cli.where import where_line
    from irp.settings import whereabouts

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("IRP_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    line = where_line(whereabouts(prefect=True), prefect=True)
    assert line.startswith("irp: warning: no stack running")
    assert "Prefect: a temporary server for this command only" in line


def test_outside_the_stack_directory_without_irp_home(tmp_path: Path) -> None:
    """As a person runs it: another directory, no IRP_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IRP_", "PREFECT_API"))}
    done = subprocess.run(
        [sys.executable, "-c", "from irp.cli.main import run; run()", "incidents", "list"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "no incidents\n"
    assert done.stderr.startswith(
        f"irp: warning: no stack running for home {tmp_path / '.irp'} (IRP_HOME not set; new, empty)"
    )
