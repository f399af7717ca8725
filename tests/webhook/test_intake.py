"""What arrives is stored alike on SQLite and PostgreSQL: text PostgreSQL cannot hold,
very long strings, huge numbers and edge timestamps; every format on /alerts/generic,
form-encoded callbacks included; Alertmanager's truncated alerts on the incident."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from irp.alerts.storable import NUL_REPLACEMENT, RawBody
from irp.db import session_scope
from irp.incidents import timeline
from models import Alert, Incident
from models.enums import IncidentType
from tests.webhook.conftest import AUTH
from tests.webhook.payloads import am_alert, am_body

FIXTURES = Path(__file__).parent.parent / "alerts" / "fixtures"
FORM = "application/x-www-form-urlencoded"
X = NUL_REPLACEMENT


def post(url: str, body: bytes, source: str, ctype: str = "application/json") -> httpx.Response:
    headers = {**AUTH, "Content-Type": ctype}
    return httpx.post(f"{url}/alerts/{source}", content=body, headers=headers, timeout=30)


def alerts() -> list[Alert]:
    with session_scope() as session:
        return list(session.exec(select(Alert).order_by(Alert.id)))  # type: ignore[arg-type]


def incident(incident_id: str) -> Incident:
    with session_scope() as session:
        found = session.get(Incident, incident_id)
        assert found is not None
        return found


# --- text PostgreSQL cannot store ---------------------------------------------------------


def test_nul_in_every_alertmanager_field_is_stored_escaped_and_the_body_kept(live: str) -> None:
    alert = am_alert("CheckoutDown\x00")
    alert["labels"]["env\x00"] = "prod\x00"
    alert["annotations"]["summary"] = "down\x00hard"
    alert["extra"] = {"note": "\x00"}
    body = json.dumps(am_body([alert])).encode()
    assert b"\\u0000" in body
    answer = post(live, body, "alertmanager")
    assert answer.status_code == 202, answer.text
    [opened] = answer.json()["incidents_opened"]
    [row] = alerts()
    assert row.name == f"CheckoutDown{X}"
    assert row.labels[f"env{X}"] == f"prod{X}"
    assert row.payload["extra"] == {"note": X}
    assert row.raw_body is not None and row.raw_body_encoding is not None
    assert RawBody(row.raw_body, row.raw_body_encoding).to_bytes() == body  # type: ignore[arg-type]
    assert incident(opened).summary == f"down{X}hard"
    assert post(live, body, "alertmanager").json()["duplicates"] == 1  # a retry stores nothing


@pytest.mark.parametrize(
    "body",
    [
        {"title": "Disk\x00 full on db-3", "service": "db\x00"},
        {"title": "x", "labels": {"k\x00": "v"}, "description": "\x00"},
        {"event": "raw\x00", "nested": [{"\x00": "\x00"}]},
    ],
)
def test_nul_on_generic_is_stored_never_a_5xx(live: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    answer = post(live, raw, "generic")
    assert answer.status_code == 202, answer.text
    [row] = alerts()
    assert "\x00" not in json.dumps(row.payload, ensure_ascii=False).replace("\\u0000", "")
    assert X in json.dumps(row.payload, ensure_ascii=False)
    assert RawBody(row.raw_body, row.raw_body_encoding).to_bytes() == raw  # type: ignore[arg-type]


def test_plain_json_keeps_no_raw_copy(live: str) -> None:
    assert post(live, json.dumps(am_body([am_alert("CheckoutDown")])).encode(), "alertmanager")
    [row] = alerts()
    assert row.raw_body is None


# --- long strings, huge numbers, edge timestamps ------------------------------------------


def test_long_strings_are_cut_to_their_columns(live: str) -> None:
    long = "Down " + "x" * 20_000
    alert = am_alert(long, service="s" * 5_000, severity="c" * 5_000)
    alert["annotations"] = {"summary": long, "description": long}
    alert["labels"]["incident_subtype"] = "y" * 5_000
    alert["fingerprint"] = "f" * 5_000
    answer = post(live, json.dumps(am_body([alert])).encode(), "alertmanager")
    assert answer.status_code == 202, answer.text
    [opened] = answer.json()["incidents_opened"]
    [row] = alerts()
    assert len(row.name) == 500 and row.service is not None and len(row.service) == 200
    found = incident(opened)
    assert len(found.summary) == 500 and len(found.description) == 20_000
    generic = post(live, json.dumps({"title": long}).encode(), "generic")
    assert generic.status_code == 202
    assert generic.json()["notes"][0]["field"] == "title"
    assert len(alerts()[-1].name) == 500


@pytest.mark.parametrize(
    "starts_at",
    ["9999-12-31T23:59:59.999999Z", "0002-01-01T00:00:00Z", "1969-12-31T23:59:59+14:00"],
)
def test_edge_timestamps(live: str, starts_at: str) -> None:
    answer = post(
        live,
        json.dumps(am_body([am_alert("CheckoutDown", starts_at=starts_at)])).encode(),
        "alertmanager",
    )
    assert answer.status_code == 202, answer.text
    [row] = alerts()
    assert row.starts_at is not None


def test_huge_numbers_are_stored(live: str) -> None:
    big = 10**400
    body = am_body([am_alert("CheckoutDown")])
    body["alerts"][0]["value"] = big
    body["truncatedAlerts"] = 10**30
    answer = post(live, json.dumps(body).encode(), "alertmanager")
    assert answer.status_code == 202, answer.text
    assert answer.json()["truncated"] == 10**30
    [row] = alerts()
    assert row.payload["value"] == big


# --- every format on /alerts/generic ------------------------------------------------------


def test_suricata_and_wazuh_open_network_attack_incidents(live: str) -> None:
    suricata = post(live, (FIXTURES / "suricata.json").read_bytes(), "generic")
    assert suricata.status_code == 202, suricata.text
    assert suricata.json()["notes"] == []
    [opened] = suricata.json()["incidents_opened"]
    found = incident(opened)
    assert (found.type, found.subtype) == (IncidentType.network_attack, "malware")
    assert found.reporter == "suricata"
    wazuh = post(live, (FIXTURES / "wazuh.json").read_bytes(), "generic")
    assert wazuh.json()["incidents_attached"] == [opened]  # same type and service: one incident
    assert [a.source for a in alerts()] == ["suricata", "wazuh"]
    assert all(a.mapped and a.incident_id == opened for a in alerts())


def test_cloud_alarms_are_stored_and_listed_unmapped(
    live: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from irp.cli.main import main

    tencent = post(live, (FIXTURES / "tencent.json").read_bytes(), "generic")
    aliyun = post(live, (FIXTURES / "aliyun.form").read_bytes(), "generic", FORM)
    unknown = post(live, b'{"vendor": "acme", "msg": "something odd"}', "generic")
    for answer in (tencent, aliyun, unknown):
        assert answer.status_code == 202, answer.text
        assert answer.json()["stored"] == 1 and answer.json()["unmapped"] == 1
    assert unknown.json()["notes"] == [
        {
            "field": "title",
            "detail": "title: is required (not irp's generic format; stored unmapped)",
        }
    ]
    rows = alerts()
    assert [r.source for r in rows] == ["tencent", "aliyun", "generic"]
    assert rows[1].raw_body == (FIXTURES / "aliyun.form").read_text()
    assert rows[1].payload["lastTime"] == "10分钟"

    assert main(["alerts", "list", "--unmapped", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {r["source"] for r in listed} == {"tencent", "aliyun", "generic"}
    assert {r["name"] for r in listed} >= {"checkout CVM: CPU利用率", "checkout-ecs-cpu"}

    recovered = json.loads((FIXTURES / "tencent.json").read_text())
    recovered["alarmStatus"] = "0"
    again = post(live, json.dumps(recovered).encode(), "generic")
    assert again.json()["resolved"] == 1
    assert alerts()[0].status == "resolved"


def test_form_is_only_for_generic(live: str) -> None:
    answer = post(live, (FIXTURES / "aliyun.form").read_bytes(), "alertmanager", FORM)
    assert answer.status_code == 415


def test_a_shipper_batch_stores_each_event(live: str) -> None:
    batch = [json.loads((FIXTURES / f"{n}.json").read_text()) for n in ("suricata", "wazuh")]
    batch.append({"event_type": "dns", "dns": {"rrname": "example.com"}})
    answer = post(live, json.dumps(batch).encode(), "generic")
    assert answer.status_code == 202, answer.text
    assert answer.json()["stored"] == 3
    assert answer.json()["unmapped"] == 1
    assert answer.json()["notes"][0]["field"] == "[2].title"


# --- Alertmanager's truncatedAlerts -------------------------------------------------------


def test_truncated_alerts_are_written_on_the_incident_once(live: str) -> None:
    body = am_body([am_alert("CheckoutDown")], group_key='{}:{service="checkout"}')
    body["truncatedAlerts"] = 12
    raw = json.dumps(body).encode()
    first = post(live, raw, "alertmanager")
    [opened] = first.json()["incidents_opened"]
    assert first.json()["truncated"] == 12
    assert post(live, raw, "alertmanager").json()["duplicates"] == 1  # a retry
    body["truncatedAlerts"] = 20
    post(live, json.dumps(body).encode(), "alertmanager")  # the group grew; same alerts shown
    assert incident(opened).facts["alerts_truncated"] == {'{}:{service="checkout"}': 20}
    with session_scope() as session:
        events = [e for e in timeline.events(session, opened) if e.kind == "alerts_truncated"]
    assert [e.message.split(" (")[0] for e in events] == [
        "12 more alerts truncated by Alertmanager",
        "20 more alerts truncated by Alertmanager",
    ]


def test_alert_list_masks_personal_data(live: str, capsys: pytest.CaptureFixture[str]) -> None:
    from irp.cli.main import main

    body = {"title": "Call SOC analyst Li Wei 13812345678", "extra": "unknown format"}
    assert post(live, json.dumps(body).encode(), "generic").json()["unmapped"] == 1
    assert main(["alerts", "list", "--unmapped"]) == 0
    shown = capsys.readouterr().out
    assert "Call SOC analyst" in shown
    assert "13812345678" not in shown
