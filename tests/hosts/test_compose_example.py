"""docs/examples/compose.yaml parses and runs what the documentation says (no Docker here:
the suite has no network, so the images are neither pulled nor built)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from deployments.prefect_yaml import WORK_POOL
from irp.cli.main import main

pytestmark = [pytest.mark.no_database]
COMPOSE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "compose.yaml"


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def test_the_compose_example_has_the_documented_topology() -> None:
    services = _services()
    irp = {name: s for name, s in services.items() if s.get("image") == "irp:local"}
    assert sorted(irp) == [
        "prefect-deploy",
        "serve-1",
        "serve-2",
        "webhook-1",
        "webhook-2",
        "worker",
    ]
    assert {"postgres", "prefect-server"} <= set(services)
    # Every irp container reaches the same Prefect API and irp database, with shared reports.
    assert len({str(s["environment"]) for s in irp.values()}) == 1
    assert all("reports:/var/lib/irp/reports" in s["volumes"] for s in irp.values())
    hostnames = [services[n]["hostname"] for n in ("serve-1", "serve-2")]
    assert len(set(hostnames)) == 2
    worker = services["worker"]["command"]
    assert worker[worker.index("--pool") + 1] == WORK_POOL
    assert set(services["worker"]["profiles"]) == set(services["prefect-deploy"]["profiles"])


def test_the_commands_it_runs_exist(capsys: pytest.CaptureFixture[str]) -> None:
    services = _services()
    for name in ("serve-1", "serve-2"):
        module = services[name]["command"][2]
        assert importlib.util.find_spec(module) is not None, module
    for name in ("webhook-1", "webhook-2"):
        program, *args = services[name]["command"]
        assert program == "irp"
        assert main([*args, "--help"]) == 0  # the options parse
    assert "--host" in capsys.readouterr().out
