"""The real Prometheus Alertmanager, started on loopback for a test or a benchmark."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

BINARY = "prometheus-alertmanager"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def am_config(
    webhook_url: str | list[str], token: str, group_by: list[str], max_alerts: int = 0
) -> dict[str, Any]:
    """One receiver `irp`; several webhook URLs (webhook instances) each get every alert."""
    urls = [webhook_url] if isinstance(webhook_url, str) else webhook_url
    return {
        "route": {
            "receiver": "irp",
            "group_by": group_by,
            "group_wait": "200ms",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "irp",
                "webhook_configs": [
                    {
                        "url": f"{url}/alerts/alertmanager",
                        "send_resolved": True,
                        "max_alerts": max_alerts,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                    }
                    for url in urls
                ],
            }
        ],
    }


@contextmanager
def alertmanager(
    folder: Path,
    webhook_url: str | list[str],
    token: str,
    group_by: list[str] | None = None,
    max_alerts: int = 0,
) -> Iterator[str]:
    """Run Alertmanager (no clustering, storage in `folder`); yield its base URL.
    `max_alerts` > 0 caps the alerts per notification (the rest is `truncatedAlerts`)."""
    binary = shutil.which(BINARY) or f"/usr/bin/{BINARY}"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "alertmanager.yml"
    config.write_text(
        yaml.safe_dump(
            am_config(webhook_url, token, group_by or ["alertname", "service"], max_alerts)
        )
    )
    port = free_port()
    log = (folder / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], deadline_s: float = 30) -> None:
    """Startup only: poll /-/ready until it answers 200 (or the process dies)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"alertmanager exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("alertmanager did not become ready")


def push(url: str, alerts: list[dict[str, Any]]) -> None:
    """POST alerts to Alertmanager's API as Prometheus would."""
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=30).raise_for_status()


def api_alert(
    name: str, service: str, starts_at: datetime, *, ends_at: datetime | None = None, **labels: str
) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": name, "service": service, **labels},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://prometheus.local/graph",
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return alert
