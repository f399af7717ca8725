"""Metrics on a small hand-made history: every median below was worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from irp.cli.main import main
from irp.db import get_engine, session_scope
from irp.reporting import metrics
from models import DrillScore, Incident
from models.enums import IncidentType, Priority

JAN, FEB = datetime(2026, 1, 10, 8, tzinfo=UTC), datetime(2026, 2, 3, 22, tzinfo=UTC)
DB, SF = IncidentType.data_breach, IncidentType.system_failure
# (type, priority, detected, minutes to activated, contained, resolved, drill)
HISTORY = [
    (DB, Priority.P1, JAN, 10, 60, 120, False),
    (DB, Priority.P2, JAN, 20, 90, None, False),
    (DB, Priority.P1, FEB, 30, 30, 300, False),
    (SF, Priority.P3, FEB, 5, None, None, False),
    (SF, None, FEB, None, None, None, False),
    (SF, Priority.P1, JAN, 1000, 1000, 1000, True),
]
# minutes from occurrence to detection, per HISTORY row; None: the time of occurrence is unknown
DETECT = [5, 15, 40, None, None, 600]


def _minutes(start: datetime, value: float | None) -> datetime | None:
    return None if value is None else start + timedelta(minutes=value)


@pytest.fixture()
def history() -> None:
    with session_scope() as session:
        for i, (itype, prio, at, ack, contain, resolve, drill) in enumerate(HISTORY):
            session.add(
                Incident(
                    id=f"INC-H{i}",
                    type=itype,
                    priority=prio,
                    summary="history",
                    reporter="test",
                    drill=drill,
                    occurred_at=None if DETECT[i] is None else at - timedelta(minutes=DETECT[i]),
                    detected_at=at,
                    activated_at=_minutes(at, ack),
                    contained_at=_minutes(at, contain),
                    resolved_at=_minutes(at, resolve),
                )
            )
        session.flush()
        lines = [(JAN, "stage", True), (JAN, "gate", False), (JAN, "gap", False)]
        lines += [(FEB, "stage", True), (FEB, "gate", True)]
        for at, kind, met in lines:
            session.add(
                DrillScore(
                    incident_id="INC-H5",
                    scenario="s",
                    incident_type="system_failure",
                    held_at=at,
                    kind=kind,
                    name=kind,
                    met=met,
                    result="met" if met else "missed",
                )
            )


def _row(table: object, dimension: str, group: str) -> dict[str, object]:
    frame = table  # a DataFrame
    found = frame[(frame["dimension"] == dimension) & (frame["group"] == group)]  # type: ignore[index]
    assert len(found) == 1, (dimension, group)
    return dict(found.iloc[0])


@pytest.mark.usefixtures("history")
def test_medians_per_type_priority_and_month_match_hand_computed_values() -> None:
    result = metrics.collect(get_engine())
    assert result.incidents == 5  # the drill is left out

    def medians(dimension: str, group: str) -> tuple[object, ...]:
        row = _row(result.table, dimension, group)
        values = [row[f"{m}_median_min"] for m in ("acknowledge", "contain", "resolve")]
        return (row["incidents"], *[None if v != v else v for v in values])

    assert medians("all", "all") == (5, 15.0, 60.0, 210.0)
    assert medians("type", "data_breach") == (3, 20.0, 60.0, 210.0)
    assert medians("type", "system_failure") == (2, 5.0, None, None)
    assert medians("priority", "P1") == (2, 20.0, 45.0, 210.0)
    assert medians("priority", "P2") == (1, 20.0, 90.0, None)
    assert medians("priority", "unset") == (1, None, None, None)
    assert medians("month", "2026-01") == (2, 15.0, 75.0, 120.0)
    assert medians("month", "2026-02") == (3, 17.5, 30.0, 300.0)
    # p90 of acknowledge over 10, 20, 30 (linear): 20 + 0.8 * 10
    assert _row(result.table, "type", "data_breach")["acknowledge_p90_min"] == 28.0

    with_drills = metrics.collect(get_engine(), include_drills=True)
    assert with_drills.incidents == 6
    assert _row(with_drills.table, "all", "all")["acknowledge_median_min"] == 20.0


@pytest.mark.usefixtures("history")
def test_time_to_detect_skips_incidents_whose_occurrence_is_unknown() -> None:
    result = metrics.collect(get_engine())

    def detect(dimension: str, group: str) -> tuple[object, object]:
        row = _row(result.table, dimension, group)
        return row["detect_median_min"], row["detect_p90_min"]

    assert detect("all", "all") == (15.0, 35.0)  # of 5, 15, 40; p90: 15 + 0.8 * 25
    assert detect("month", "2026-02") == (40.0, 40.0)
    blank = detect("type", "system_failure")  # neither knows when it occurred: blank, not 0
    assert all(v != v for v in blank)
    payload = result.to_dict()
    by = {(r["dimension"], r["group"]): r for r in payload["by"]}
    assert by[("type", "system_failure")]["detect_median_min"] is None
    assert by[("type", "data_breach")]["detect_median_min"] == 15.0
    text = metrics.render(result, "table")
    assert "detect_median_min" in text.splitlines()[1]


@pytest.mark.usefixtures("history")
def test_drill_results_per_month() -> None:
    drills = metrics.collect(get_engine()).drills
    assert drills.to_dict(orient="records") == [
        {"month": "2026-01", "drills": 1, "targets": 2, "met": 1, "met_pct": 50.0, "gaps": 1},
        {"month": "2026-02", "drills": 1, "targets": 2, "met": 2, "met_pct": 100.0, "gaps": 0},
    ]


@pytest.mark.usefixtures("history")
def test_cli_writes_json_csv_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "chart.png"
    code = main(["metrics", "--format", "json", "--out", str(tmp_path / "out"), "--png", str(png)])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["incidents"] == 5 and payload["drills"][0]["met_pct"] == 50.0
    assert png.read_bytes().startswith(b"\x89PNG")
    csv_text = (tmp_path / "out" / "metrics.csv").read_text(encoding="utf-8")
    assert csv_text.startswith("dimension,group,incidents,detect_median_min,detect_p90_min,ack")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == payload

    assert main(["metrics"]) == 0
    table = capsys.readouterr().out
    assert "data_breach" in table and "Drill results per month" in table
    assert main(["metrics", "--format", "xml"]) == 2


def test_no_incidents_is_not_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["incidents"] == 0
