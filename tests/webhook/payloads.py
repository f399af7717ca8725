"""Alertmanager webhook (v4) bodies as Alertmanager sends them, for tests and benchmarks."""

from __future__ import annotations

from typing import Any

EPOCH_ZERO = "0001-01-01T00:00:00Z"


def am_alert(
    name: str,
    *,
    service: str = "checkout",
    starts_at: str = "2025-11-03T08:15:30Z",
    status: str = "firing",
    fingerprint: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "service": service, **labels},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": starts_at,
        "endsAt": "2025-11-03T09:00:00Z" if status == "resolved" else EPOCH_ZERO,
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": fingerprint or f"fp-{name}-{service}",
    }


def am_body(alerts: list[dict[str, Any]], group_key: str = '{}:{alertname="x"}') -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "irp",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local",
        "alerts": alerts,
    }
