"""The backup and restore commands docs/operations.md gives, run as written (bash, from the
checkout) on the embedded PostgreSQL: what a restore gives back is the incident, its chained
timeline (still verified, still refusing edits) and its report files."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from irp.cli.main import main
from irp.db import dispose_engines, get_engine, session_scope
from irp.incidents import timeline
from irp.incidents.service import open_incident
from irp.settings import get_settings
from irp.stack.postgres import EmbeddedPostgres
from models.enums import IncidentType, Stage
from tests.factories import make_intake

pytestmark = [pytest.mark.no_database]  # PostgreSQL only: pg_dump is what is tested
REPO = Path(__file__).resolve().parents[2]
OPERATIONS = REPO / "docs" / "operations.md"


def documented(block: str) -> str:
    """The shell block after `<!-- block -->` in docs/operations.md."""
    found = re.search(rf"<!-- {block} -->\n```sh\n(.*?)```", OPERATIONS.read_text(), re.S)
    assert found, f"no `{block}` block in {OPERATIONS}"
    return found.group(1)


def run_documented(block: str, **env: str) -> None:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", documented(block)],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def create_database(server: EmbeddedPostgres, name: str) -> str:
    with psycopg.connect(server.libpq_uri(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.libpq_uri(name)


def drop_database(server: EmbeddedPostgres, name: str) -> None:
    with psycopg.connect(server.libpq_uri(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_documented_backup_restores_incidents_timeline_and_reports(
    database: str,
    irp_home: Path,
    postgres_server: EmbeddedPostgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with session_scope() as session:
        incident = open_incident(
            session, IncidentType.data_breach, make_intake(IncidentType.data_breach)
        )
        for step in range(3):
            timeline.record(session, incident.id, Stage.response, "note", f"step {step}")
    assert main(["report", incident.id]) == 0
    report = get_settings().reports_dir / incident.id / "report.md"
    written = report.read_text(encoding="utf-8")
    with get_engine().connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM timeline_event")).scalar_one()
    dispose_engines()

    suffix = f"{os.getpid()}_{tmp_path.name[-12:]}".replace("-", "_").lower()
    names = {n: f"{n}_{suffix}" for n in ("prefect_src", "irp_back", "prefect_back")}
    prefect_src = create_database(postgres_server, names["prefect_src"])
    with psycopg.connect(prefect_src, autocommit=True) as conn:  # stands for Prefect's tables
        conn.execute("CREATE TABLE flow_run (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO flow_run VALUES (1, 'INC-X')")
    backup = tmp_path / "backup"
    irp_db = database.replace("+psycopg", "")
    try:
        run_documented(
            "backup",
            BACKUP=str(backup),
            IRP_HOME=str(irp_home),
            IRP_DB=irp_db,
            PREFECT_DB=prefect_src,
        )
        assert sorted(p.name for p in backup.iterdir()) == [
            "files.tar.gz",
            "irp.dump",
            "prefect.dump",
        ]

        restored_home = tmp_path / "restored-home"
        restored_irp = create_database(postgres_server, names["irp_back"])
        restored_prefect = create_database(postgres_server, names["prefect_back"])
        run_documented(
            "restore",
            BACKUP=str(backup),
            IRP_HOME=str(restored_home),
            IRP_DB=restored_irp,
            PREFECT_DB=restored_prefect,
        )

        restored_report = restored_home / "reports" / incident.id / "report.md"
        assert restored_report.read_text(encoding="utf-8") == written
        with psycopg.connect(restored_prefect) as conn:
            assert conn.execute("SELECT name FROM flow_run").fetchall() == [("INC-X",)]

        monkeypatch.setenv("IRP_HOME", str(restored_home))
        monkeypatch.setenv(
            "IRP_DATABASE_URL", postgres_server.sqlalchemy_url("psycopg", names["irp_back"])
        )
        get_settings.cache_clear()
        capsys.readouterr()
        assert main(["incidents", "show", incident.id]) == 0
        assert incident.id in capsys.readouterr().out
        assert main(["audit", "verify", incident.id]) == 0
        assert "chain intact" in capsys.readouterr().out
        with get_engine().begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM timeline_event")).scalar_one() == events
            with pytest.raises(DBAPIError):  # the triggers came back with the data
                conn.execute(text("UPDATE timeline_event SET message = 'edited'"))
    finally:
        dispose_engines()
        get_settings.cache_clear()
        for name in names.values():
            drop_database(postgres_server, name)
