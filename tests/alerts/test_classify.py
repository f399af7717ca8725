"""Classification: the sender's hint wins, then the first matching rule, else unmapped."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from irp.alerts.classify import DEFAULT_RULES, ClassificationRule, classify, field_value
from irp.alerts.parsers import ParsedAlert, parse_alertmanager, parse_cloudevents, parse_generic
from models.enums import IncidentType, Priority

pytestmark = pytest.mark.no_database


def am_alert(alertname: str, **labels: str) -> ParsedAlert:
    body = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": alertname, **labels},
                "annotations": {},
                "startsAt": "2025-11-03T08:15:30Z",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }
    return parse_alertmanager(body)[0]


def rule(name: str, match: dict[str, str], itype: str, **extra: Any) -> ClassificationRule:
    return ClassificationRule.model_validate(
        {"name": name, "match": match, "incident_type": itype, **extra}
    )


@pytest.mark.parametrize(
    ("alertname", "itype", "subtype"),
    [
        ("SynFloodDetected", "network_attack", "ddos"),
        ("EdgeTrafficSpike", "network_attack", "ddos"),
        ("DDoSMitigationActive", "network_attack", "ddos"),
        ("RansomwareBeaconSeen", "network_attack", "malware"),
        ("EndpointVirusFound", "network_attack", "malware"),
        ("SSHBruteForce", "network_attack", "intrusion"),
        ("SshLoginFromNewCountry", "network_attack", "intrusion"),
        ("IntrusionSignatureMatched", "network_attack", "intrusion"),
        ("DLPPolicyViolation", "data_breach", None),
        ("S3DataExfiltration", "data_breach", None),
        ("CustomerDataLeak", "data_breach", None),
        ("InsiderMassDownload", "insider_threat", None),
        ("PrivilegeAbuseDetected", "insider_threat", None),
        ("CheckoutDown", "system_failure", None),
        ("PaymentServiceUnavailable", "system_failure", None),
        ("HighErrorRate", "system_failure", None),
        ("APILatencyP99High", "system_failure", None),
        ("NodeDiskFull", "system_failure", None),
        ("ContainerOOMKilled", "system_failure", None),
        ("PodCrashLooping", "system_failure", None),
        ("MemoryLeakSuspected", "system_failure", None),  # a leak of memory is not a breach
    ],
)
def test_default_rules(alertname: str, itype: str, subtype: str | None) -> None:
    result = classify(am_alert(alertname), DEFAULT_RULES)
    assert result is not None
    assert (result.incident_type, result.subtype) == (IncidentType(itype), subtype)
    assert result.rule.startswith("default-")


@pytest.mark.parametrize("alertname", ["Watchdog", "CertificateExpiresSoon", "InfoInhibitor"])
def test_unmapped_is_none(alertname: str) -> None:
    assert classify(am_alert(alertname), DEFAULT_RULES) is None


def test_hint_wins_over_rules() -> None:
    alert = am_alert("CheckoutDown", incident_type="data_breach")
    result = classify(alert, DEFAULT_RULES)
    assert result is not None
    assert result.incident_type == IncidentType.data_breach
    assert result.rule == "hint"
    assert result.subtype is None


def test_hint_is_normalised_and_an_agreeing_rule_fills_subtype_and_priority() -> None:
    rules = [
        rule("syn", {"alertname": "~(?i)syn"}, "network_attack", subtype="ddos", priority="P2")
    ]
    result = classify(am_alert("SynFloodDetected", incident_type=" Network-Attack "), rules)
    assert result is not None
    assert (result.incident_type, result.subtype, result.priority) == (
        IncidentType.network_attack,
        "ddos",
        Priority.P2,
    )
    assert result.rule == "hint+syn"


def test_hint_subtype_kept_when_valid_dropped_when_not() -> None:
    kept = classify(am_alert("X", incident_type="network_attack", subtype="Malware"), [])
    assert kept is not None and kept.subtype == "malware"
    dropped = classify(am_alert("X", incident_type="network_attack", subtype="phishing"), [])
    assert dropped is not None and dropped.subtype is None
    no_subtypes = classify(am_alert("X", incident_type="data_breach", subtype="pii"), [])
    assert no_subtypes is not None and no_subtypes.subtype is None


def test_invalid_hint_is_ignored() -> None:
    result = classify(am_alert("CheckoutDown", incident_type="cyber"), DEFAULT_RULES)
    assert result is not None
    assert result.incident_type == IncidentType.system_failure
    assert classify(am_alert("Watchdog", incident_type="cyber"), DEFAULT_RULES) is None


def test_first_matching_rule_wins() -> None:
    a = rule("a", {"env": "prod"}, "system_failure", priority="P3")
    b = rule("b", {"alertname": "~Disk"}, "data_breach", priority="P1")
    alert = am_alert("NodeDiskFull", env="prod")
    first = classify(alert, [a, b])
    assert first is not None and first.rule == "a" and first.priority == Priority.P3
    second = classify(alert, [b, a])
    assert second is not None and second.rule == "b" and second.priority == Priority.P1


def test_exact_values_and_all_entries_must_hold() -> None:
    r = rule("r", {"env": "prod", "team": "payments"}, "system_failure")
    assert r.matches(am_alert("X", env="prod", team="payments"))
    assert not r.matches(am_alert("X", env="prod", team="payments-eu"))
    assert not r.matches(am_alert("X", env="prod"))  # absent label never matches
    assert not r.matches(am_alert("X", env="Prod", team="payments"))


def test_regexes_search_unless_anchored() -> None:
    unanchored = rule("u", {"alertname": "~Disk"}, "system_failure")
    anchored = rule("a", {"alertname": "~^Disk$"}, "system_failure")
    assert unanchored.matches(am_alert("NodeDiskFull"))
    assert not anchored.matches(am_alert("NodeDiskFull"))
    assert anchored.matches(am_alert("Disk"))
    case = rule("c", {"alertname": "~disk"}, "system_failure")
    assert not case.matches(am_alert("NodeDiskFull"))
    assert rule("ci", {"alertname": "~(?i)disk"}, "system_failure").matches(am_alert("NodeDisk"))
    assert not rule("empty", {"zone": "~.*"}, "system_failure").matches(am_alert("X"))


def test_pseudo_fields() -> None:
    alert = am_alert("CheckoutDown", service="checkout", severity="critical", job="api")
    assert field_value(alert, "alertname") == field_value(alert, "name") == "CheckoutDown"
    assert field_value(alert, "source") == "alertmanager"
    assert field_value(alert, "severity") == "critical"
    assert field_value(alert, "service") == "checkout"
    assert field_value(alert, "job") == "api"
    assert field_value(alert, "missing") is None
    r = rule(
        "r",
        {"source": "alertmanager", "severity": "critical", "service": "~^check"},
        "system_failure",
    )
    assert r.matches(alert)


def test_rule_source_filter() -> None:
    am_only = rule("am", {}, "system_failure", source="alertmanager")
    assert am_only.matches(am_alert("X"))
    generic = parse_generic({"title": "X"})[0]
    assert not am_only.matches(generic)
    assert classify(generic, [am_only]) is None


def test_cloudevent_type_is_the_name_rules_see() -> None:
    event = {
        "specversion": "1.0",
        "id": "1",
        "source": "//waf",
        "type": "com.example.waf.ddos.detected",
    }
    result = classify(parse_cloudevents(event)[0], DEFAULT_RULES)
    assert result is not None and result.subtype == "ddos"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"match": {"alertname": "~(unclosed"}}, "rule 'bad': match.alertname: invalid regex"),
        ({"subtype": "phishing", "incident_type": "network_attack"}, "rule 'bad': subtype"),
        ({"subtype": "ddos", "incident_type": "data_breach"}, "allowed: none"),
        ({"incident_type": "cyber"}, "incident_type"),
        ({"priority": "P5"}, "priority"),
        ({"source": "zabbix"}, "source"),
        ({"matches": {}}, "matches"),
    ],
)
def test_invalid_rules_name_the_problem(fields: dict[str, Any], message: str) -> None:
    data = {"name": "bad", "match": {}, "incident_type": "system_failure", **fields}
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        ClassificationRule.model_validate(data)


def test_rules_load_from_plan_like_data() -> None:
    rules = [
        ClassificationRule.model_validate(item)
        for item in (
            {"name": "waf", "match": {"alertname": "~(?i)waf"}, "incident_type": "network_attack"},
            {
                "name": "pay",
                "match": {"service": "payments"},
                "incident_type": "system_failure",
                "priority": "P1",
            },
        )
    ]
    result = classify(am_alert("GatewayDown", service="payments"), rules)
    assert result is not None and result.priority == Priority.P1 and result.rule == "pay"
