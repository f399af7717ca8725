"""A host whose code is older than irp's schema (mid rolling upgrade) keeps working on it."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from irp.cli.main import main
from irp.db import dispose_engines, get_engine, session_scope
from irp.incidents.service import open_incident
from models.enums import IncidentType
from tests.factories import make_intake


def test_code_older_than_the_schema_runs_on_it_with_a_warning(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with get_engine().begin() as connection:  # a newer release migrated this database
        connection.execute(text("INSERT INTO alembic_version VALUES ('0099_from_a_newer_irp')"))
    dispose_engines()  # the next use is a new process of the old code

    with caplog.at_level(logging.WARNING, logger="irp.db"):
        with session_scope() as session:
            incident = open_incident(
                session, IncidentType.system_failure, make_intake(IncidentType.system_failure)
            )
        assert main(["incidents", "list"]) == 0

    assert incident.id in capsys.readouterr().out
    warnings = [r.getMessage() for r in caplog.records if r.name == "irp.db"]
    assert warnings == [
        "irp's database schema is newer than this code (revision 0099_from_a_newer_irp unknown"
        " here): running on it without migrating; upgrade this host"
    ]
    with get_engine().connect() as connection:
        versions = {
            r[0] for r in connection.execute(text("SELECT version_num FROM alembic_version"))
        }
    assert "0099_from_a_newer_irp" in versions  # nothing downgraded or restamped
