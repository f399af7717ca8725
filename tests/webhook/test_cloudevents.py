"""CloudEvents in all three modes of the HTTP binding, over real HTTP on both databases:
binary (`ce-*` headers, as the cloudevents SDK writes them) opens the same incident as
structured, a missing or malformed `ce-*` header is a 400 naming it, a batch stores each
event, and no header a sender can write gets a 5xx."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent
from dateutil.parser import isoparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from irp.alerts.auth import sign_standard_webhooks
from irp.alerts.parsers import parse_cloudevents
from irp.alerts.storable import NUL_REPLACEMENT
from irp.db import session_scope
from models import Alert, Incident
from models.enums import IncidentType
from tests.webhook.conftest import AUTH, HMAC_SECRET, Dispatches

FIXTURE = Path(__file__).parent.parent / "alerts" / "fixtures" / "cloudevents.json"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


def event() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def binary(body: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The structured `body` as binary mode, written by the cloudevents SDK itself."""
    attributes = {k: v for k, v in body.items() if k != "data"}
    if "time" in attributes:
        attributes["time"] = isoparse(attributes["time"])
    message = to_binary_event(CloudEvent(attributes, body.get("data")))
    return message.headers, message.body


def post(url: str, body: bytes, headers: dict[str, str] | dict[str, str | bytes]) -> httpx.Response:
    return httpx.post(
        f"{url}/alerts/cloudevents", content=body, headers={**AUTH, **headers}, timeout=30
    )


def post_binary(url: str, body: dict[str, Any]) -> httpx.Response:
    headers, data = binary(body)
    return post(url, data, headers)


def alerts() -> list[Alert]:
    with session_scope() as session:
        return list(session.exec(select(Alert).order_by(Alert.id)))  # type: ignore[arg-type]


def incidents() -> list[Incident]:
    with session_scope() as session:
        return list(session.exec(select(Incident)))


# --- binary mode --------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["binary", "structured"])
def test_binary_and_structured_open_the_same_incident(
    live: str, dispatches: Dispatches, first: str
) -> None:
    """Whichever mode arrives first opens the incident; the other is the same alert (same
    dedup key, same stored payload), so it is a duplicate and opens nothing."""
    sends = {
        "binary": lambda: post_binary(live, event()),
        "structured": lambda: post(live, FIXTURE.read_bytes(), {"Content-Type": STRUCTURED}),
    }
    opened = sends[first]()
    assert opened.status_code == 202, opened.text
    assert opened.json()["stored"] == 1
    [incident_id] = opened.json()["incidents_opened"]
    assert dispatches.wait_for(1) == [(incident_id, IncidentType.network_attack)]

    again = sends["structured" if first == "binary" else "binary"]()
    assert again.status_code == 202, again.text
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 1)
    assert again.json()["incidents_opened"] == []

    [row] = alerts()
    assert row.dedup_key == parse_cloudevents(event())[0].dedup_key
    assert row.payload == event()  # binary mode stores its structured equivalent
    assert row.raw_body is None
    assert (row.name, row.status, row.service) == (
        "com.example.waf.ddos.detected",
        "firing",
        "edge",
    )
    assert row.labels["severity"] == "critical"
    [found] = incidents()
    assert found.id == incident_id
    assert (found.type, found.subtype, found.service) == (
        IncidentType.network_attack,
        "ddos",
        "edge",
    )
    assert found.summary.startswith("SYN flood")


def test_binary_headers_are_percent_decoded_and_case_insensitive(live: str) -> None:
    headers, data = binary(event())
    headers = {k.upper() if k.startswith("ce-") else k: v for k, v in headers.items()}
    headers["CE-SUBJECT"] = "edge%20lb%20%C3%A9u-1"
    answer = post(live, data, headers)
    assert answer.status_code == 202, answer.text
    assert alerts()[0].payload["subject"] == "edge lb éu-1"


def test_binary_without_time_has_no_start(live: str) -> None:
    body = event()
    del body["time"]
    headers, data = binary(body)
    headers.pop("ce-time")  # the SDK writes its own "now" when time is absent
    assert post(live, data, headers).status_code == 202
    [row] = alerts()
    assert row.starts_at is None and "time" not in row.payload


@pytest.mark.parametrize("header", ["ce-specversion", "ce-id", "ce-source", "ce-type"])
def test_binary_missing_required_header_is_a_400_naming_it(live: str, header: str) -> None:
    headers, data = binary(event())
    del headers[header]
    answer = post(live, data, headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == header
    assert answer.json()["detail"].startswith(f"{header}: is required")
    assert alerts() == []


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("ce-specversion", "0.3"),
        ("ce-specversion", "2.0"),
        ("ce-id", ""),
        ("ce-time", "yesterday"),
        ("ce-time", "2025-11-03T08:25:00"),  # no time zone
        ("ce-time", "20251103T082500Z"),  # ISO 8601 basic format, not RFC 3339
        ("ce-status", "pending"),
        ("ce-bad_name", "x"),
        ("ce-data", "x"),
        ("ce-subject", "a%00b"),
    ],
)
def test_binary_malformed_header_is_a_400_naming_it(live: str, header: str, value: str) -> None:
    headers, data = binary(event())
    headers[header] = value
    answer = post(live, data, headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == header, answer.json()
    assert alerts() == []


def test_binary_data_must_be_json(live: str) -> None:
    headers, _ = binary(event())
    answer = post(live, b"SYN flood", {**headers, "content-type": "text/plain"})
    assert answer.status_code == 415
    assert answer.json()["field"] == "Content-Type"
    broken = post(live, b"{not json", headers)
    assert (broken.status_code, broken.json()["field"]) == (400, "body")


def test_binary_data_with_nul_is_stored_and_the_body_kept(live: str) -> None:
    body = event()
    body["data"]["summary"] = "SYN\x00flood"
    headers, data = binary(body)
    assert b"\\u0000" in data
    answer = post(live, data, headers)
    assert answer.status_code == 202, answer.text
    [row] = alerts()
    assert row.payload["data"]["summary"] == f"SYN{NUL_REPLACEMENT}flood"
    assert row.raw_body == data.decode()


def test_binary_event_signed_with_standard_webhooks(live: str) -> None:
    """The signature covers the body only; the ce-* headers ride beside it."""
    headers, data = binary(event())
    signed = sign_standard_webhooks(HMAC_SECRET, "ce-msg-1", int(time.time()), data)
    send = {**headers, **signed}
    answer = httpx.post(f"{live}/alerts/cloudevents", content=data, headers=send, timeout=30)
    assert answer.status_code == 202, answer.text
    tampered = {**send, "webhook-id": "ce-msg-2"}
    refused = httpx.post(f"{live}/alerts/cloudevents", content=data, headers=tampered, timeout=30)
    assert refused.status_code == 401
    assert len(alerts()) == 1


def test_structured_mode_ignores_stray_ce_headers(live: str) -> None:
    headers = {"Content-Type": STRUCTURED, "ce-id": "other", "ce-specversion": "9"}
    answer = post(live, FIXTURE.read_bytes(), headers)
    assert answer.status_code == 202, answer.text
    assert alerts()[0].payload["id"] == event()["id"]


# --- batch mode ---------------------------------------------------------------------------


def test_a_batch_stores_each_event(live: str, dispatches: Dispatches) -> None:
    second = event()
    second.update(id="second-event", severity="high")
    answer = post(live, json.dumps([event(), second]).encode(), {"Content-Type": BATCH})
    assert answer.status_code == 202, answer.text
    assert answer.json()["stored"] == 2
    [opened] = answer.json()["incidents_opened"]  # same type and service: one incident
    assert dispatches.wait_for(1) == [(opened, IncidentType.network_attack)]
    assert [a.payload["id"] for a in alerts()] == [event()["id"], "second-event"]
    assert all(a.incident_id == opened for a in alerts())
    retry = post(live, json.dumps([event(), second]).encode(), {"Content-Type": BATCH})
    assert (retry.json()["stored"], retry.json()["duplicates"]) == (0, 2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([event(), {**event(), "id": ""}], "[1].id"),
        ([event(), "not an event"], "[1]"),
        ([{**event(), "time": "soon"}], "[0].time"),
        (event(), "body"),  # one event sent as a batch
        ([], "body"),
    ],
)
def test_a_bad_batch_is_a_422_naming_the_item(live: str, body: Any, field: str) -> None:
    answer = post(live, json.dumps(body).encode(), {"Content-Type": BATCH})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert alerts() == []


# --- never a 5xx --------------------------------------------------------------------------

CE_NAMES = st.sampled_from(
    ["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-subject", "ce-status"]
) | st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=0, max_size=8).map("ce-".__add__)
# What an HTTP header can carry (visible latin-1), with percent escapes for anything else.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=30,
).map(str.strip) | st.sampled_from(
    [
        "1.0",
        "0.3",
        "%00",
        "%ZZ",
        "%C3%28",
        "%ED%A0%80",
        "2025-11-03T08:25:00Z",
        "9999-12-31T23:59:59-01:00",
    ]
)


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(changes=st.dictionaries(CE_NAMES, HEADER_TEXT | st.none(), max_size=4))
def test_random_ce_headers_never_get_a_5xx(live: str, changes: dict[str, str | None]) -> None:
    sent, data = binary(copy.deepcopy(event()))
    headers: dict[str, str | bytes] = dict(sent)
    for name, value in changes.items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value.encode("latin-1")
    answer = post(live, data, headers)
    assert answer.status_code < 500, (changes, answer.text)
    if answer.status_code >= 400:
        assert answer.json()["detail"]
