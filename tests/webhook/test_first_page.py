"""An alert that opens an incident pages the commander from the ingest path, with no flow run
and no Prefect server, and the flow's report stage does not page again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import select

from deployments.webhook import create_app
from irp.db import session_scope
from irp.incidents import recovery
from irp.notify import outbox
from irp.settings import get_settings
from models import Notification
from models.enums import IncidentType
from tests.notify.helpers import routed_plan, sent_queued
from tests.notify.receiver import Receiver
from tests.webhook.payloads import am_alert, am_body
from tests.webhook.server import serve

TOKEN = "test-token-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


def _prefect_down(incident_id: str, incident_type: IncidentType, run_name: str) -> str:
    raise httpx.ConnectError("the Prefect server is down")


def test_an_alert_pages_the_commander_while_prefect_is_down(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    monkeypatch.setenv("IRP_PLAN_FILE", str(plan_file))
    get_settings.cache_clear()
    settings = get_settings().model_copy(update={"webhook_token": SecretStr(TOKEN)})
    body = am_body([am_alert("CheckoutDown", severity="critical")])

    with serve(create_app(settings, dispatch=_prefect_down)) as url:
        answer = httpx.post(
            f"{url}/alerts/alertmanager",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert answer.status_code == 202, answer.text
        [incident_id] = answer.json()["incidents_opened"]
        sent_queued(incident_id)

    with session_scope() as session:
        query = select(Notification).where(Notification.incident_id == incident_id)
        rows = list(session.exec(query))
        already_told = recovery.announced(session, incident_id, "report_received")
    assert {r.event for r in rows} == {"report_received"}
    assert {r.status for r in rows} == {outbox.SENT}
    paged = {r.path for r in receiver.requests}
    assert {"/cio", "/leadership", "/technical"} <= paged  # the commander and the on-call group
    assert any(
        "[cio]" in r.json["title"] and incident_id in r.json["title"] for r in receiver.requests
    )
    assert already_told  # the flow's report stage skips report_received
