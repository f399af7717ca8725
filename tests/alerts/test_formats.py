"""Formats recognised on /alerts/generic (Suricata EVE, Wazuh, Tencent Cloud, Aliyun
CloudMonitor) and bodies in no known format: parsed, mapped, keyed, or kept with a note."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irp.alerts.classify import DEFAULT_RULES, classify
from irp.alerts.delivery import UNRECOGNISED_NAME, read_delivery, read_generic
from irp.alerts.parsers import AlertParseError, ParsedAlert
from irp.alerts.security import TIME_BUCKET_S, eve_subtype
from irp.alerts.storable import decode_form
from models.enums import IncidentType

pytestmark = pytest.mark.no_database

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def aliyun_form() -> dict[str, Any]:
    data = decode_form((FIXTURES / "aliyun.form").read_bytes()).data
    assert isinstance(data, dict)
    return data


def one(body: Any) -> ParsedAlert:
    delivery = read_generic(body)
    assert delivery.notes == [], delivery.notes
    [alert] = delivery.alerts
    return alert


# --- Suricata EVE -------------------------------------------------------------------------


def test_suricata_alert_maps_to_network_attack_malware() -> None:
    body = load("suricata")
    alert = one(body)
    assert alert.source == "suricata"
    assert alert.name == "ET MALWARE Cobalt Strike Beacon Observed"
    assert alert.starts_at == datetime(2025, 11, 3, 8, 15, 30, 123456, tzinfo=UTC)
    assert alert.labels["dest_ip"] == "198.51.100.23"
    assert alert.labels["signature_id"] == "2027512"
    assert alert.severity == "high"
    assert alert.raw == body
    found = classify(alert, DEFAULT_RULES)
    assert found is not None
    assert (found.incident_type, found.subtype) == (IncidentType.network_attack, "malware")


@pytest.mark.parametrize(
    ("category", "signature", "subtype"),
    [
        ("Attempted Denial of Service", "ET DOS Possible NTP DDoS Inbound", "ddos"),
        ("Detection of a Denial of Service Attack", "GPL DOS SYN flood", "ddos"),
        ("Malware Command and Control Activity Detected", "ET CNC Feodo Tracker", "malware"),
        ("A Network Trojan was detected", "ET MALWARE Spyware", "malware"),
        ("Web Application Attack", "ET WEB_SERVER SQL Injection", "intrusion"),
        ("Attempted Administrator Privilege Gain", "ET EXPLOIT CVE-2014-6271", "intrusion"),
    ],
)
def test_suricata_subtype_by_category(category: str, signature: str, subtype: str) -> None:
    assert eve_subtype(category, signature) == subtype


def test_suricata_repeats_share_a_key_within_the_time_bucket() -> None:
    """gid:signature_id:dest_ip in a time bucket (DOMAIN.md)."""
    body = load("suricata")
    key = one(body).dedup_key
    later = copy.deepcopy(body)
    later["timestamp"] = "2025-11-03T16:15:59.000001+0800"
    later["src_port"] = 50000
    later["flow_id"] = 1
    assert one(later).dedup_key == key
    next_bucket = copy.deepcopy(body)
    next_bucket["timestamp"] = "2025-11-03T16:25:30.123456+0800"
    assert TIME_BUCKET_S == 600 and one(next_bucket).dedup_key != key
    other_target = copy.deepcopy(body)
    other_target["dest_ip"] = "198.51.100.24"
    assert one(other_target).dedup_key != key


def test_suricata_timestamp_without_zone_is_not_a_start_time() -> None:
    body = load("suricata")
    body["timestamp"] = "2009-11-24T21:27:09.534255"  # Suricata before 4.0
    alert = one(body)
    assert alert.starts_at is None
    assert alert.dedup_key.startswith("suricata:")


# --- Wazuh --------------------------------------------------------------------------------


def test_wazuh_alert_maps_from_rule_groups() -> None:
    body = load("wazuh")
    alert = one(body)
    assert alert.source == "wazuh"
    assert alert.name.startswith("sshd: brute force")
    assert alert.starts_at == datetime(2025, 11, 3, 8, 15, 30, 512000, tzinfo=UTC)
    assert alert.labels["srcuser"] == "admin"
    assert alert.labels["rule_groups"] == "syslog,sshd,authentication_failures"
    assert alert.severity == "high"
    found = classify(alert, DEFAULT_RULES)
    assert found is not None
    assert (found.incident_type, found.subtype) == (IncidentType.network_attack, "intrusion")


def test_wazuh_low_level_gets_no_type_hint() -> None:
    body = load("wazuh")
    body["rule"].update(level=5, description="sshd: Attempt to login using a non-existent user")
    alert = one(body)
    assert alert.incident_type is None
    assert classify(alert, DEFAULT_RULES) is None  # stored and listed as unmapped


def test_wazuh_malware_group() -> None:
    body = load("wazuh")
    body["rule"].update(level=12, groups=["ossec", "rootcheck"], description="Rootkit found")
    found = classify(one(body), DEFAULT_RULES)
    assert found is not None and found.subtype == "malware"


def test_wazuh_key_is_rule_agent_srcuser_per_bucket() -> None:
    body = load("wazuh")
    key = one(body).dedup_key
    repeat = copy.deepcopy(body)
    repeat.update(id="1762157735.2841999", timestamp="2025-11-03T08:15:35.100+0000")
    repeat["data"]["srcport"] = "51999"
    assert one(repeat).dedup_key == key
    for change in (
        lambda b: b["data"].update(srcuser="root"),
        lambda b: b["agent"].update(id="004"),
        lambda b: b["rule"].update(id="5710"),
        lambda b: b.update(timestamp="2025-11-03T09:15:30.512+0000"),
    ):
        other = copy.deepcopy(body)
        change(other)
        assert one(other).dedup_key != key


# --- Tencent Cloud and Aliyun -------------------------------------------------------------


def test_tencent_alarm_and_recovery_share_a_key() -> None:
    body = load("tencent")
    alarm = one(body)
    assert alarm.source == "tencent"
    assert alarm.status == "firing"
    assert alarm.name == "checkout CVM: CPU利用率"
    assert alarm.labels["instance"] == "ins-o9p3rg3m"
    assert alarm.summary == "checkout CVM: CPU利用率 on ins-o9p3rg3m (now 97.5%)"
    assert classify(alarm, DEFAULT_RULES) is None  # no default rule: unmapped
    recovered = copy.deepcopy(body)
    recovered.update(alarmStatus=0, recoverTime="2025-11-03 16:30:00")
    resolved = one(recovered)
    assert resolved.status == "resolved"
    assert resolved.dedup_key == alarm.dedup_key


def test_aliyun_form_callback() -> None:
    form = aliyun_form()
    assert form["lastTime"] == "10分钟"
    alert = one(form)
    assert alert.source == "aliyun"
    assert alert.name == "checkout-ecs-cpu"
    assert alert.status == "firing"
    assert alert.severity == "critical"
    assert alert.labels["instance"] == "checkout-web-01"
    assert alert.starts_at == datetime(2025, 11, 3, 8, 15, 30, tzinfo=UTC)
    assert alert.summary == "checkout-ecs-cpu on checkout-web-01 (CPUUtilization = 95.2)"
    ok = dict(form, alertState="OK", timestamp="1762158330000")
    assert one(ok).status == "resolved"
    assert one(ok).dedup_key != alert.dedup_key
    assert one(dict(form)).dedup_key == alert.dedup_key  # a retry


# --- anything else ------------------------------------------------------------------------


def test_irp_format_is_still_strict_on_its_own_terms() -> None:
    alert = one(load("generic"))
    assert alert.source == "generic" and alert.recognised


@pytest.mark.parametrize(
    ("body", "field", "name"),
    [
        ({"title": "Disk full", "colour": "red"}, "colour", "Disk full"),
        ({"title": 5}, "title", UNRECOGNISED_NAME),
        ({"alertName": "x"}, "title", "x"),
        (
            {"timestamp": "2025-11-03T08:15:30Z", "event_type": "alert", "alert": {"gid": 1}},
            "alert.signature_id",
            "",
        ),
        ({"rule": {"level": 99, "id": "1"}, "timestamp": "x"}, "rule.level", ""),
        ({"alarmPolicyInfo": {}, "alarmStatus": "2"}, "alarmStatus", ""),
        ("just text", "body", UNRECOGNISED_NAME),
        (None, "body", UNRECOGNISED_NAME),
    ],
)
def test_unrecognised_bodies_are_kept_with_a_note(body: Any, field: str, name: str) -> None:
    delivery = read_generic(body)
    [alert] = delivery.alerts
    [note] = delivery.notes
    assert note.field == field
    assert "stored unmapped" in note.detail
    assert not alert.recognised
    assert alert.name == (name or UNRECOGNISED_NAME)
    assert alert.raw == (body if isinstance(body, dict) else {"body": body})
    assert read_generic(copy.deepcopy(body)).alerts[0].dedup_key == alert.dedup_key


def test_an_array_is_a_batch_with_item_paths() -> None:
    batch = [load("suricata"), {"title": 7}, load("wazuh"), 3]
    delivery = read_generic(batch)
    assert [a.source for a in delivery.alerts] == ["suricata", "generic", "wazuh", "generic"]
    assert [(n.field, n.detail.split(":")[0]) for n in delivery.notes] == [
        ("[1].title", "title"),
        ("[3]", "body"),
    ]
    with pytest.raises(AlertParseError) as info:
        read_generic([])
    assert info.value.field == "body"


def test_alertmanager_delivery_carries_truncated_alerts() -> None:
    body = load("alertmanager")
    body["truncatedAlerts"] = 7
    delivery = read_delivery("alertmanager", body)
    assert delivery.truncated == 7
    assert delivery.group_key == body["groupKey"]
    body["truncatedAlerts"] = -1
    with pytest.raises(AlertParseError) as info:
        read_delivery("alertmanager", body)
    assert info.value.field == "truncatedAlerts"


TEXT = st.text(max_size=12) | st.sampled_from(["alert", "1", "0", "OK", "2025-11-03T08:15:30Z"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)
KEYS = sorted(
    {k for name in ("suricata", "wazuh", "tencent", "generic") for k in load(name)}
    | set(aliyun_form())
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=JSON | st.dictionaries(st.sampled_from(KEYS), JSON, max_size=8))
def test_generic_stores_whatever_arrives(body: Any) -> None:
    """Every body but an empty array becomes alerts with keys; nothing else raises."""
    if body == []:
        return
    delivery = read_generic(body)
    assert delivery.alerts and all(a.dedup_key for a in delivery.alerts)
    assert len(delivery.alerts) == (len(body) if isinstance(body, list) else 1)
