"""Notifications end to end through real Apprise to a loopback receiver, rows and timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from irp.cli.main import main
from irp.db import session_scope
from irp.incidents import timeline
from irp.notify import service
from models import Notification
from tests.notify.helpers import Sleeps, open_breach, routed_plan
from tests.notify.receiver import Receiver

PHONE, EMAIL, ID_NO, CARD = (
    "13812345678",
    "li.lei@example.com",
    "11010519491231002X",
    "4111111111111111",
)
ORDER = "ORD-2026112501"


def _rows(ids: list[int]) -> list[Notification]:
    with session_scope() as session:
        rows = [session.get(Notification, i) for i in ids]
    return [r for r in rows if r is not None]


def _kinds(incident_id: str) -> list[str]:
    with session_scope() as session:
        return [e.kind for e in timeline.events(session, incident_id)]


def test_each_audience_gets_its_template_routed_by_tag(tmp_path: Path, receiver: Receiver) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = open_breach(plan_file, data_categories=["email"], gdpr_subjects=True)

    ids = service.notify(incident_id, "plan_activated", sleep=Sleeps())

    by_path = {r.path: r.json for r in receiver.requests}
    # leadership tag: the group's channel and the cio's own URL (role tagged with its group)
    assert set(by_path) == {"/leadership", "/cio", "/technical", "/cs", "/legal", "/logistics"}
    assert "[leadership]" in by_path["/cio"]["title"]
    assert "leadership summary" in by_path["/leadership"]["message"]
    assert "technical detail" in by_path["/technical"]["message"]
    assert "customer notice draft" in by_path["/cs"]["message"]
    legal = by_path["/legal"]["message"]
    assert "regulator notification draft" in legal
    assert "Lead supervisory authority" in legal  # the GDPR clock started at detection
    assert "[TO BE CONFIRMED: dpo contact]" in legal
    assert all(r.status == "sent" and len(r.attempts) == 1 for r in _rows(ids))
    assert "notified" in _kinds(incident_id)


def test_plan_groups_without_urls_are_recorded_unrouted(tmp_path: Path, receiver: Receiver) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = open_breach(plan_file)

    rows = _rows(service.notify(incident_id, "report_received"))

    assert [(r.audience, r.status) for r in rows] == [
        ("leadership", "unrouted"),
        ("technical", "unrouted"),
    ]
    assert receiver.requests == []


def test_target_urls_may_come_from_the_environment(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.factories import plan_data, write_plan

    data = plan_data()
    port = receiver.url("json", "/").split(":")[2].split("/")[0]
    data["organisation"]["groups"]["leadership"]["notify"] = ["json://127.0.0.1:${LEAD_PORT}/env"]
    data["organisation"]["groups"]["technical"]["notify"] = ["json://127.0.0.1:${UNSET_PORT}/x"]
    monkeypatch.setenv("LEAD_PORT", port)
    monkeypatch.delenv("UNSET_PORT", raising=False)
    incident_id = open_breach(write_plan(tmp_path, data))

    rows = _rows(service.notify(incident_id, "report_received", sleep=Sleeps()))

    assert [r.path for r in receiver.requests] == ["/env"]
    assert [(r.audience, r.status) for r in rows] == [
        ("leadership", "sent"),
        ("technical", "unrouted"),  # its variable is unset: recorded, not sent
    ]


def test_server_error_then_success_records_both_attempts(
    tmp_path: Path, receiver: Receiver
) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver, routes={"report_received": ["technical"]})
    incident_id = open_breach(plan_file)
    receiver.respond_with((500, {}), (200, {}))
    sleeps = Sleeps()

    [row] = _rows(service.notify(incident_id, "report_received", sleep=sleeps))

    assert row.status == "sent" and row.delivered_at is not None
    assert [(a["number"], a["status_code"], a["ok"]) for a in row.attempts] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert len(sleeps) == 1


def test_429_retry_after_is_honoured(tmp_path: Path, receiver: Receiver) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver, routes={"report_received": ["technical"]})
    incident_id = open_breach(plan_file)
    receiver.respond_with((429, {"Retry-After": "7"}), (200, {}))
    sleeps = Sleeps()

    [row] = _rows(service.notify(incident_id, "report_received", sleep=sleeps))

    assert sleeps == [7.0]
    assert row.status == "sent"
    assert row.attempts[0]["retry_after_s"] == 7.0


def test_failed_delivery_is_listed_timelined_and_resent(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file, _ = routed_plan(
        tmp_path,
        receiver,
        routes={"report_received": ["legal"]},
        delivery={"max_attempts": 2, "base_delay_s": 0},
    )
    incident_id = open_breach(plan_file)
    receiver.always(500)

    [row] = _rows(service.notify(incident_id, "report_received", sleep=Sleeps()))

    assert row.status == "failed" and len(row.attempts) == 2
    assert "notification_failed" in _kinds(incident_id)
    assert main(["notifications", "failed"]) == 0
    listed = capsys.readouterr().out
    assert f"{row.id} " in listed and "HTTP 500" in listed and incident_id in listed

    assert main(["notifications", "resend", str(row.id)]) == 1  # still failing: exit 1
    receiver.always(200)
    assert main(["notifications", "resend", str(row.id)]) == 0
    [again] = _rows([row.id] if row.id else [])
    assert again.status == "sent"
    assert [a["number"] for a in again.attempts] == [1, 2, 3, 4, 5]
    assert "notification_resent" in _kinds(incident_id)
    assert main(["notifications", "resend", str(row.id)]) == 2  # already delivered
    capsys.readouterr()
    assert main(["notifications", "failed"]) == 0
    assert "no failed notifications" in capsys.readouterr().out


def test_personal_data_arrives_masked(tmp_path: Path, receiver: Receiver) -> None:
    pattern = {"name": "order_id", "regex": r"ORD-\d{10}", "label": "order"}
    plan_file, _ = routed_plan(tmp_path, receiver, redaction_patterns=[pattern])
    description = f"Caller {PHONE} ({EMAIL}), ID {ID_NO}, card {CARD}, order {ORDER}"
    incident_id = open_breach(
        plan_file, summary=f"Leak reported by {EMAIL}", description=description
    )

    ids = service.notify(incident_id, "plan_activated", sleep=Sleeps())

    assert receiver.requests
    for request in receiver.requests:
        text = request.body.decode("utf-8")
        for secret in (PHONE, EMAIL, ID_NO, CARD, ORDER):
            assert secret not in text
    technical = next(r.json for r in receiver.requests if r.path == "/technical")
    assert "138****5678" in technical["message"] and "**** **** **** 1111" in technical["message"]
    assert "[REDACTED:order]" in technical["message"]
    assert all(EMAIL not in r.body and EMAIL not in r.title for r in _rows(ids))


def test_a_broken_target_never_raises(tmp_path: Path, receiver: Receiver) -> None:
    plan_file, data = routed_plan(tmp_path, receiver, routes={"report_received": ["technical"]})
    data["organisation"]["groups"]["technical"]["notify"] = ["foo://nowhere"]
    from tests.factories import write_plan

    write_plan(tmp_path, data)
    incident_id = open_breach(plan_file)

    [row] = _rows(service.notify(incident_id, "report_received"))

    assert row.status == "failed" and "unsupported" in str(row.attempts[-1]["error"])
    assert service.notify("INC-NOPE", "report_received") == []


def test_drills_do_not_page_real_people(tmp_path: Path, receiver: Receiver) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = open_breach(plan_file, drill=True)

    rows = _rows(service.notify(incident_id, "report_received"))

    assert {r.status for r in rows} == {"suppressed"}
    assert receiver.requests == []
    override = receiver.url("json", "/drill")
    rows = _rows(service.notify(incident_id, "report_received", notify_url=override))
    assert {r.status for r in rows} == {"sent"}
    assert [r.path for r in receiver.requests] == ["/drill", "/drill"]
    assert all(r.json["title"].startswith("[DRILL] ") for r in receiver.requests)


def test_drill_targets_from_the_plan(tmp_path: Path, receiver: Receiver) -> None:
    plan_file, _ = routed_plan(
        tmp_path, receiver, drill={"targets": [receiver.url("json", "/drill-room")]}
    )
    incident_id = open_breach(plan_file, drill=True)

    service.notify(incident_id, "report_received")

    assert [r.path for r in receiver.requests] == ["/drill-room", "/drill-room"]
