"""The timeline is append-only and chained: an edit, removal or insertion is found, and named."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from irp.cli.main import main
from irp.db import get_engine, session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.incidents.service import open_incident
from irp.plan.loader import get_plan
from irp.reporting import report as reporting
from irp.settings import get_settings
from models.enums import IncidentType, Stage
from tests.factories import make_intake


def _incident_with_events(count: int) -> tuple[str, list[int]]:
    with session_scope() as session:
        incident = open_incident(
            session, IncidentType.system_failure, make_intake(IncidentType.system_failure)
        )
        ids = [
            timeline.record(
                session, incident.id, Stage.response, "note", f"step {i}", data={i: i}
            ).id
            for i in range(count)
        ]
    return incident.id, [i for i in ids if i is not None]


@contextmanager
def _triggers_off() -> Iterator[None]:
    """What someone with the database owner's rights could do: lift the append-only guard."""
    engine = get_engine()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE timeline_event DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER timeline_event_no_update"))
            connection.execute(text("DROP TRIGGER timeline_event_no_delete"))
    yield


def _tamper(sql: str, **params: object) -> None:
    with _triggers_off(), get_engine().begin() as connection:
        connection.execute(text(sql), params)


def test_a_written_timeline_verifies_and_the_cli_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    incident_id, _ = _incident_with_events(3)
    with session_scope() as session:
        check = timeline.verify(session, incident_id)
        head = timeline.head(session, incident_id)
    assert check.intact and check.head == head and check.events >= 3
    assert main(["audit", "verify", incident_id]) == 0
    assert f"chain intact, head {head}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "statement", ["UPDATE timeline_event SET message = 'x'", "DELETE FROM timeline_event"]
)
def test_the_database_refuses_to_change_or_remove_an_event(statement: str) -> None:
    _incident_with_events(1)
    with pytest.raises(DBAPIError, match="append-only"), get_engine().begin() as connection:
        connection.execute(text(statement))


def test_an_edited_event_is_named_by_verify(capsys: pytest.CaptureFixture[str]) -> None:
    incident_id, ids = _incident_with_events(4)
    _tamper("UPDATE timeline_event SET message = 'nothing happened' WHERE id = :id", id=ids[2])
    with session_scope() as session:
        check = timeline.verify(session, incident_id)
    assert (check.broken_at, "edited") == (ids[2], "edited") and "edited" in check.problem
    assert main(["audit", "verify", incident_id]) == 1
    assert f"BROKEN at event {ids[2]}" in capsys.readouterr().out


def test_a_removed_event_breaks_the_link_of_the_next() -> None:
    incident_id, ids = _incident_with_events(4)
    _tamper("DELETE FROM timeline_event WHERE id = :id", id=ids[1])
    with session_scope() as session:
        check = timeline.verify(session, incident_id)
    assert check.broken_at == ids[2] and "removed" in check.problem


def test_a_changed_hash_is_found_too() -> None:
    """Rewriting an event and its own hash still breaks the next event's link."""
    incident_id, ids = _incident_with_events(3)
    _tamper("UPDATE timeline_event SET hash = :h WHERE id = :id", h="0" * 64, id=ids[0])
    with session_scope() as session:
        assert timeline.verify(session, incident_id).broken_at == ids[0]


def test_writers_at_once_make_one_chain_without_a_fork() -> None:
    incident_id, _ = _incident_with_events(0)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(10):
                with session_scope() as session:
                    timeline.record(session, incident_id, Stage.response, "note", f"{n}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_scope() as session:
        check = timeline.verify(session, incident_id)
    assert check.intact and check.events >= 40


def test_the_report_names_the_chain_head_it_was_written_from() -> None:
    incident_id, _ = _incident_with_events(2)
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        head = timeline.head(session, incident_id)
        report = reporting.build_report(session, get_plan(), incident, get_settings().reports_dir)
    markdown = (report.folder / "report.md").read_text(encoding="utf-8")
    assert f"{head} (irp audit verify {incident_id})" in markdown


def test_appends_after_a_rollback_link_to_the_head_on_record() -> None:
    """Appends within one transaction reuse the head they read; one rolled back is forgotten."""
    incident_id, _ = _incident_with_events(2)
    with session_scope() as session:
        timeline.record(session, incident_id, Stage.response, "note", "rolled back 1")
        timeline.record(session, incident_id, Stage.response, "note", "rolled back 2")
        session.rollback()
        timeline.record(session, incident_id, Stage.response, "note", "kept 1")
        session.commit()
        timeline.record(session, incident_id, Stage.response, "note", "kept 2")
    with session_scope() as session:
        check = timeline.verify(session, incident_id)
        messages = [e.message for e in timeline.events(session, incident_id)]
    assert check.intact and check.events == 5, check  # opened, 2, then the 2 kept
    assert messages[-2:] == ["kept 1", "kept 2"]
