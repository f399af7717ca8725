"""Alert parsers: each format, dedup keys across retries, and errors that name the field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irp.alerts.parsers import (
    PARSERS,
    AlertParseError,
    GenericAlert,
    parse_alertmanager,
    parse_cloudevents,
    parse_generic,
    parse_grafana,
    parse_timestamp,
)
from irp.errors import InvalidInput

pytestmark = pytest.mark.no_database

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


# --- Alertmanager -------------------------------------------------------------------------


def test_alertmanager_fields() -> None:
    body = load("alertmanager")
    first, second = parse_alertmanager(body)
    assert first.source == "alertmanager"
    assert first.name == "CheckoutErrorRateHigh"
    assert first.status == "firing"
    assert first.fingerprint == "8e3c1f0b2a9d4c57"
    assert first.starts_at == datetime(2025, 11, 3, 8, 15, 30, 123456, tzinfo=UTC)
    assert first.ends_at is None  # Go's zero time means "still firing"
    assert first.summary == "Checkout 5xx ratio above 20% for 5 minutes"
    assert first.service == "checkout"
    assert first.severity == "critical"
    assert first.incident_type is None
    assert first.raw == body["alerts"][0]
    assert second.incident_type == "network_attack"
    assert second.service == "edge-exporter"  # from `job` when no `service` label
    assert second.starts_at == datetime(2025, 11, 3, 8, 16, 2, tzinfo=UTC)
    assert first.dedup_key != second.dedup_key


def test_alertmanager_byte_identical_retry_has_same_keys() -> None:
    raw = (FIXTURES / "alertmanager.json").read_bytes()
    keys_1 = [a.dedup_key for a in parse_alertmanager(json.loads(raw))]
    keys_2 = [a.dedup_key for a in parse_alertmanager(json.loads(raw))]
    assert keys_1 == keys_2


def test_alertmanager_resend_under_new_group_key_has_same_keys() -> None:
    body = load("alertmanager")
    resent = copy.deepcopy(body)
    resent["groupKey"] = '{}/{env="prod",team="sre"}:{env="prod"}'
    resent["receiver"] = "irp-after-reload"
    assert [a.dedup_key for a in parse_alertmanager(body)] == [
        a.dedup_key for a in parse_alertmanager(resent)
    ]


def test_alertmanager_refired_alert_gets_new_key() -> None:
    body = load("alertmanager")
    refired = copy.deepcopy(body)
    refired["alerts"][0]["startsAt"] = "2025-11-03T09:40:00Z"
    assert parse_alertmanager(body)[0].dedup_key != parse_alertmanager(refired)[0].dedup_key


def test_alertmanager_resolved_alert_keeps_key() -> None:
    body = load("alertmanager")
    resolved = copy.deepcopy(body)
    resolved["status"] = "resolved"
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2025-11-03T08:45:00Z"
    before, after = parse_alertmanager(body)[0], parse_alertmanager(resolved)[0]
    assert after.dedup_key == before.dedup_key
    assert after.status == "resolved"
    assert after.ends_at == datetime(2025, 11, 3, 8, 45, tzinfo=UTC)


def test_same_instant_in_another_offset_has_same_key() -> None:
    body = load("alertmanager")
    shifted = copy.deepcopy(body)
    shifted["alerts"][1]["startsAt"] = "2025-11-03T08:16:02.000Z"
    assert parse_alertmanager(body)[1].dedup_key == parse_alertmanager(shifted)[1].dedup_key


def test_missing_fingerprint_falls_back_to_labels() -> None:
    body = load("alertmanager")
    del body["alerts"][0]["fingerprint"]
    reordered = copy.deepcopy(body)
    reordered["alerts"][0]["labels"] = dict(reversed(list(body["alerts"][0]["labels"].items())))
    first = parse_alertmanager(body)[0]
    assert first.fingerprint is None
    assert first.dedup_key == parse_alertmanager(reordered)[0].dedup_key
    other = copy.deepcopy(body)
    other["alerts"][0]["labels"]["instance"] = "10.0.3.8:8080"
    assert first.dedup_key != parse_alertmanager(other)[0].dedup_key


def test_null_maps_are_empty() -> None:
    body = load("alertmanager")
    body["alerts"][0]["annotations"] = None
    body["commonAnnotations"] = None
    alert = parse_alertmanager(body)[0]
    assert alert.annotations == {}
    assert alert.summary == "CheckoutErrorRateHigh"


# --- Grafana ------------------------------------------------------------------------------


def test_grafana_fields() -> None:
    body = load("grafana")
    (alert,) = parse_grafana(body)
    assert alert.source == "grafana"
    assert alert.name == "Payment API latency"
    assert alert.fingerprint == "a1b2c3d4e5f60718"
    assert alert.starts_at == datetime(2025, 11, 3, 8, 20, tzinfo=UTC)
    assert alert.service == "payment-api"
    assert alert.severity == "warning"
    assert alert.raw["values"] == {"B": 2.41, "C": 1}


def test_grafana_and_alertmanager_keys_do_not_collide() -> None:
    am = load("alertmanager")
    gf = load("grafana")
    gf["alerts"][0]["fingerprint"] = am["alerts"][0]["fingerprint"]
    gf["alerts"][0]["startsAt"] = am["alerts"][0]["startsAt"]
    assert parse_grafana(gf)[0].dedup_key != parse_alertmanager(am)[0].dedup_key


# --- CloudEvents --------------------------------------------------------------------------


def test_cloudevents_fields() -> None:
    body = load("cloudevents")
    (alert,) = parse_cloudevents(body)
    assert alert.source == "cloudevents"
    assert alert.name == "com.example.waf.ddos.detected"
    assert alert.status == "firing"
    assert alert.incident_type == "network_attack"
    assert alert.subtype == "ddos"
    assert alert.severity == "critical"
    assert alert.service == "edge"
    assert alert.summary.startswith("SYN flood")
    assert alert.starts_at == datetime(2025, 11, 3, 8, 25, tzinfo=UTC)
    assert alert.annotations == {"subject": "edge-lb-eu-1"}
    assert alert.raw == body


def test_cloudevents_dedup_is_source_plus_id() -> None:
    body = load("cloudevents")
    key = parse_cloudevents(body)[0].dedup_key
    changed_data = copy.deepcopy(body)
    changed_data["data"]["pps"] = 1
    assert parse_cloudevents(changed_data)[0].dedup_key == key
    for field, value in (("id", "another-id"), ("source", "//waf.example.com/edge/us-east-1")):
        other = copy.deepcopy(body)
        other[field] = value
        assert parse_cloudevents(other)[0].dedup_key != key


def test_cloudevents_resolved_and_scalar_extensions() -> None:
    body = load("cloudevents")
    body.update(status="resolved", retries=3, mitigated=True, dropped=None)
    (alert,) = parse_cloudevents(body)
    assert alert.status == "resolved"
    assert alert.labels["retries"] == "3"
    assert alert.labels["mitigated"] == "true"
    assert "dropped" not in alert.labels


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"specversion": "0.3"}, "specversion"),
        ({"specversion": 1.0}, "specversion"),
        ({"id": ""}, "id"),
        ({"source": 17}, "source"),
        ({"time": "yesterday"}, "time"),
        ({"status": "pending"}, "status"),
        ({"region": {"name": "eu"}}, "region"),
        ({"Region": "eu"}, "Region"),
    ],
)
def test_cloudevents_errors(change: dict[str, Any], field: str) -> None:
    body = load("cloudevents")
    body.update(change)
    with pytest.raises(AlertParseError) as info:
        parse_cloudevents(body)
    assert info.value.field == field


def test_cloudevents_missing_type() -> None:
    body = load("cloudevents")
    del body["type"]
    with pytest.raises(AlertParseError, match="type: is required"):
        parse_cloudevents(body)


# --- generic ------------------------------------------------------------------------------


def test_generic_fields_and_explicit_key() -> None:
    body = load("generic")
    (alert,) = parse_generic(body)
    assert alert.source == "generic"
    assert alert.name == "Bulk export of customer table by svc-report"
    assert alert.incident_type == "data_breach"
    assert alert.service == "crm"
    assert alert.starts_at == datetime(2025, 11, 3, 8, 15, tzinfo=UTC)
    other = dict(body, title="Something else entirely")
    assert parse_generic(other)[0].dedup_key == alert.dedup_key


def test_generic_hashed_key_ignores_volatile_fields() -> None:
    body = load("generic")
    del body["dedup_key"]
    key = parse_generic(body)[0].dedup_key
    volatile = dict(body, status="resolved", description="updated", severity="low")
    assert parse_generic(volatile)[0].dedup_key == key
    assert parse_generic(dict(body, occurred_at="2025-11-04T08:15:00Z"))[0].dedup_key != key
    assert parse_generic(dict(body, service="billing"))[0].dedup_key != key


def test_generic_minimal_body() -> None:
    (alert,) = parse_generic({"title": "Disk full on db-3"})
    assert alert.status == "firing"
    assert alert.labels == {}
    assert alert.starts_at is None
    assert alert.summary == "Disk full on db-3"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": 5}, "title"),
        ({"title": "x", "status": "open"}, "status"),
        ({"title": "x", "incident_type": "cyber"}, "incident_type"),
        ({"title": "x", "occurred_at": "2025-11-03T08:15:00"}, "occurred_at"),
        ({"title": "x", "labels": {"env": 1}}, "labels.env"),
        ({"title": "x", "labels": {"k8s.io/app": ["a"]}}, 'labels["k8s.io/app"]'),
        ({"title": "x", "incidenttype": "data_breach"}, "incidenttype"),
        ({"title": "x", "dedup_key": ""}, "dedup_key"),
    ],
)
def test_generic_errors(body: dict[str, Any], field: str) -> None:
    with pytest.raises(AlertParseError) as info:
        parse_generic(body)
    assert info.value.field == field


def test_generic_schema_documents_every_field() -> None:
    properties = GenericAlert.model_json_schema()["properties"]
    assert set(properties) == set(GenericAlert.model_fields)
    assert all(prop.get("description") for prop in properties.values())


# --- errors common to all -----------------------------------------------------------------


@pytest.mark.parametrize("parser", list(PARSERS.values()))
@pytest.mark.parametrize("body", [[], [{"title": "x"}], "x", 3, 1.5, True, None])
def test_non_object_body(parser: Any, body: Any) -> None:
    with pytest.raises(AlertParseError) as info:
        parser(body)
    assert info.value.field == "body"
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize(
    ("name", "path", "field"),
    [
        ("alertmanager", ("alerts", 0, "annotations", "summary"), "alerts[0].annotations.summary"),
        ("grafana", ("alerts", 0, "labels", "alertname"), "alerts[0].labels.alertname"),
        ("cloudevents", ("subject",), "subject"),
        ("generic", ("description",), "description"),
    ],
)
def test_lone_surrogate_is_a_parse_error_naming_the_field(
    name: str, path: tuple[str | int, ...], field: str
) -> None:
    """JSON may escape a lone surrogate (\\ud800); it is not text, and nothing can store it."""
    body = load(name)
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = "ok \ud800"
    with pytest.raises(AlertParseError) as info:
        PARSERS[name](body)
    assert info.value.field == field
    assert "Unicode" in str(info.value)


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda b: b.pop("alerts"), "alerts", "is required"),
        (lambda b: b.update(alerts=[]), "alerts", "must not be empty"),
        (lambda b: b.update(alerts={}), "alerts", "list"),
        (lambda b: b["alerts"][1].update(startsAt="03/11/2025"), "alerts[1].startsAt", "RFC 3339"),
        (lambda b: b["alerts"][1].pop("startsAt"), "alerts[1].startsAt", "is required"),
        (lambda b: b["alerts"][0].update(status="pending"), "alerts[0].status", ""),
        (lambda b: b["alerts"][0]["labels"].update(severity=3), "alerts[0].labels.severity", ""),
        (lambda b: b["alerts"][0].update(fingerprint=7), "alerts[0].fingerprint", ""),
        (lambda b: b.update(groupLabels=[]), "groupLabels", ""),
    ],
)
@pytest.mark.parametrize("parser", [parse_alertmanager, parse_grafana])
def test_alertmanager_like_errors(parser: Any, mutate: Any, field: str, reason: str) -> None:
    body = load("alertmanager")
    mutate(body)
    with pytest.raises(AlertParseError) as info:
        parser(body)
    assert info.value.field == field
    assert reason in info.value.reason
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-03T08:15:30Z", datetime(2025, 11, 3, 8, 15, 30, tzinfo=UTC)),
        ("2025-11-03t08:15:30.5z", datetime(2025, 11, 3, 8, 15, 30, 500000, tzinfo=UTC)),
        ("2025-11-03T16:15:30.123456789+08:00", datetime(2025, 11, 3, 8, 15, 30, 123456, UTC)),
        ("2025-11-03 03:15:30-05:00", datetime(2025, 11, 3, 8, 15, 30, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        (None, None),
    ],
)
def test_parse_timestamp(text: str | None, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-11-03T08:15:30",
        "2025-11-03",
        "2025-02-30T00:00:00Z",
        "2025-11-03T24:00:00Z",
        "2025-11-03T23:59:60Z",
        "2025-11-03T08:15:30+24:00",
        "9999-12-31T23:59:59-01:00",
        "２０２５-11-03T08:15:30Z",
        "",
        1762157730,
    ],
)
def test_parse_timestamp_rejects(text: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


# --- properties: only AlertParseError escapes ---------------------------------------------

TEXT = st.text(max_size=12) | st.sampled_from(["\ud800", "0001-01-01T00:00:00Z", "1.0", "firing"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)
KNOWN_KEYS = sorted(
    {k for name in ("alertmanager", "grafana", "cloudevents", "generic") for k in load(name)}
    | {"status", "labels", "annotations", "startsAt", "endsAt", "fingerprint"}
)
SHAPED = st.dictionaries(st.sampled_from(KNOWN_KEYS), JSON, max_size=8)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_parse_errors(parser: Any, body: Any) -> None:
    try:
        result = parser(body)
    except AlertParseError as exc:
        assert exc.field
        return
    assert result and all(a.dedup_key for a in result)


@PROPERTY
@given(body=JSON | SHAPED)
@pytest.mark.parametrize("name", list(PARSERS))
def test_arbitrary_json_raises_only_parse_errors(name: str, body: Any) -> None:
    only_parse_errors(PARSERS[name], body)


def containers(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) pair in a JSON tree."""
    found: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        found.append((node, key))
        if isinstance(value, dict | list):
            found.extend(containers(value))
    return found


@PROPERTY
@given(data=st.data())
@pytest.mark.parametrize("name", list(PARSERS))
def test_mutated_valid_bodies_raise_only_parse_errors(name: str, data: st.DataObject) -> None:
    body = load(name)  # fixtures are named after their parser
    for _ in range(data.draw(st.integers(1, 3))):
        spots = containers(body)
        if not spots:
            break
        parent, key = data.draw(st.sampled_from(spots))
        if data.draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = data.draw(JSON)
    only_parse_errors(PARSERS[name], body)
