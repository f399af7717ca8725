"""A person in the Prefect UI: start a data-breach run from the custom-run form, answer the
activation gate in the page, and the run goes on. A real stack (embedded PostgreSQL, Prefect
server and UI, the serve process) runs under a temporary IRP_HOME on free ports."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from irp.cli.up import full_stack
from irp.prefect_auth import basic_auth_header
from irp.settings import get_settings
from irp.stack import StackConfig

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-output"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The stack brings its own PostgreSQL for irp's tables: no per-test database.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.no_database]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(what: str, check: Callable[[], Any], deadline_s: float = 120) -> Any:
    """Poll `check` until it returns something truthy."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stack(irp_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The whole stack; gates suspend at once so the UI answers a suspended run."""
    monkeypatch.setenv("IRP_GATE_SUSPEND_AFTER_S", "0")
    get_settings.cache_clear()
    config = StackConfig(home=irp_home, prefect_port=_free_port())
    with full_stack(config, webhook=False, echo=lambda _: None) as (running, urls):
        # This process reads irp's database as the CLI would while the stack runs.
        monkeypatch.setenv("IRP_DATABASE_URL", running.env["IRP_DATABASE_URL"])
        get_settings.cache_clear()
        yield {**urls, "auth_string": running.auth_string}
    get_settings.cache_clear()


def _property(page: Any, label: str) -> Any:
    """A schema-form property, found by its label text."""
    span = page.locator("span.schema-form-property__label").filter(
        has_text=re.compile(f"^{re.escape(label)}$")
    )
    return span.first.locator(
        "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '),"
        " ' schema-form-property ')][1]"
    )


def _field(page: Any, label: str) -> Any:
    """The input of a schema-form property, found by its label text."""
    return _property(page, label).locator("textarea, input").first


def _choose(page: Any, label: str, value: str) -> list[str]:
    """Pick `value` in a schema-form select; return every choice it offered. The select opens
    from the keyboard (a click inside the resume dialog did not open it in headless Chromium)."""
    _property(page, label).locator("button.p-select-button__control").first.press("ArrowDown")
    options = page.locator(".p-select-option")
    options.first.wait_for()
    offered = [text.strip() for text in options.all_inner_texts()]
    options.filter(has_text=re.compile(f"^{re.escape(value)}$")).first.click()
    return offered


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_ui_run_and_gate(stack: dict[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    from irp.db import session_scope
    from irp.gates import service as gates
    from irp.incidents import service as incidents
    from irp.incidents import timeline

    ui, api = stack["ui_url"], stack["api_url"]
    SHOTS.mkdir(exist_ok=True)
    client = httpx.Client(
        trust_env=False, timeout=10, headers=basic_auth_header(stack["auth_string"])
    )
    deployments = client.post(
        f"{api}/deployments/filter", json={"deployments": {"name": {"any_": ["irp"]}}}
    ).json()
    breach = next(d for d in deployments if d["entrypoint"] == "flows.data_breach.data_breach")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        page.goto(f"{ui}/deployments")
        login = page.get_by_placeholder("admin:pass")  # the closed API: the UI asks first
        login.fill(stack["auth_string"])
        page.screenshot(path=SHOTS / "ui-0-login.png", full_page=True)
        login.press("Enter")
        for flow in ("data-breach", "network-attack", "system-failure", "insider-threat"):
            page.get_by_text(flow, exact=True).first.wait_for()
        page.screenshot(path=SHOTS / "ui-1-deployments.png", full_page=True)

        page.goto(f"{ui}/deployments/deployment/{breach['id']}/run")
        _field(page, "Summary").wait_for()  # the intake's fields, shown at once
        labels = {
            label.removesuffix(" (Optional)")
            for label in page.locator("span.schema-form-property__label").all_inner_texts()
        }
        assert {"Summary", "Reporter", "Occurred At", "Records Affected"} <= labels
        assert not {"faults", "shortfall", "plan_file", "notify_url", "incident_id"} & labels
        _field(page, "Summary").fill("Customer emails exposed by a debug endpoint")
        _field(page, "Reporter").fill("alice (SOC)")
        _field(page, "Records Affected (Optional)").fill("1200")
        page.screenshot(path=SHOTS / "ui-2-custom-run.png", full_page=True)
        page.get_by_role("button", name="Submit").click()

        run = _until(
            "the run created from the form",
            lambda: client.post(
                f"{api}/flow_runs/filter",
                json={"deployments": {"id": {"any_": [breach["id"]]}}},
            ).json(),
        )[0]
        state = _until(
            "the run to wait at the activation gate",
            lambda: (
                (s := client.get(f"{api}/flow_runs/{run['id']}").json()["state"])
                and s["type"] == "PAUSED"
                and s
            ),
            deadline_s=180,
        )
        assert state["name"] == "Suspended"  # the run holds no process while it waits

        page.goto(f"{ui}/runs/flow-run/{run['id']}")
        page.get_by_role("button", name="Resume").click()
        page.get_by_text("Activate the emergency response plan").first.wait_for()
        assert _choose(page, "Approver", "cio") == ["cio", "ciso"]  # only who may decide
        _field(page, "Comment (Optional)").fill("Activate: customer data left the building")
        page.screenshot(path=SHOTS / "ui-3-gate-form.png", full_page=True)
        page.get_by_role("button", name="Submit").click()

        def moved_on() -> str | None:
            with session_scope() as session:
                rows = [i for i in incidents.list_incidents(session) if i.flow_run_id == run["id"]]
                if not rows:
                    return None
                kinds = {e.kind for e in timeline.events(session, rows[0].id)}
                return rows[0].id if "plan_activated" in kinds else None

        incident_id = _until("the run to continue after the decision", moved_on, 180)
        page.goto(f"{ui}/runs/flow-run/{run['id']}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SHOTS / "ui-4-after-decision.png", full_page=True)
        browser.close()

    with session_scope() as session:
        decision = gates.final_decision(session, incident_id, "activation")
        assert decision is not None
        assert (decision.approver_role, decision.outcome) == ("cio", "proceed")
        events = timeline.events(session, incident_id)
        waits = [e for e in events if e.kind == "gate_waiting" and e.data["gate"] == "activation"]
        assert len(waits) == 1  # the resumed run did not announce the gate again
        assert sum(e.kind == "reported" for e in events) == 1  # nor open a second incident
        assert any(e.kind == "stage_started" and e.stage == "response" for e in events)
