"""Signed deliveries cannot be replayed: Grafana's HMAC needs its timestamp, and a Standard
Webhooks `webhook-id` is accepted once per tolerance window, across webhook processes that
share the database, but again after a delivery that failed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from irp.alerts import ingest, replay
from irp.alerts.auth import GRAFANA_TIMESTAMP_HEADER, sign_grafana, sign_standard_webhooks
from irp.db import session_scope
from models import Alert, SeenWebhookMessage
from models.base import utcnow
from tests.webhook.conftest import HMAC_SECRET
from tests.webhook.payloads import am_alert, am_body

BODY = json.dumps(am_body([am_alert("CheckoutDown")])).encode()
JSON_CT = {"Content-Type": "application/json"}


def post(url: str, headers: dict[str, str], body: bytes = BODY) -> httpx.Response:
    return httpx.post(
        f"{url}/alerts/alertmanager", content=body, headers={**JSON_CT, **headers}, timeout=30
    )


def stored() -> int:
    with session_scope() as session:
        return len(list(session.exec(select(Alert))))


def test_grafana_hmac_without_its_timestamp_is_refused_naming_the_header(live: str) -> None:
    answer = post(live, sign_grafana(HMAC_SECRET, BODY))
    assert answer.status_code == 401
    assert answer.json()["field"] == GRAFANA_TIMESTAMP_HEADER
    assert "replayed" in answer.json()["detail"]
    assert post(live, sign_grafana(HMAC_SECRET, BODY, int(time.time()))).status_code == 202
    assert stored() == 1


def test_a_replayed_webhook_id_is_refused(live: str) -> None:
    headers = sign_standard_webhooks(
        HMAC_SECRET, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", int(time.time()), BODY
    )
    assert post(live, headers).status_code == 202
    replayed = post(live, headers)
    assert replayed.status_code == 409
    assert replayed.json()["field"] == "webhook-id"
    other = dict(headers)
    other.update(sign_standard_webhooks(HMAC_SECRET, "msg-2", int(time.time()), BODY))
    assert post(live, other).json()["duplicates"] == 1  # a new id: the alert dedup applies
    assert stored() == 1


def test_webhook_processes_sharing_the_database_share_seen_ids(
    make_live: Callable[..., AbstractContextManager[str]],
) -> None:
    headers = sign_standard_webhooks(HMAC_SECRET, "msg-shared", int(time.time()), BODY)
    with (
        make_live(dispatch=lambda *_: "run") as first,
        make_live(dispatch=lambda *_: "run") as second,
    ):
        assert post(first, headers).status_code == 202
        assert post(second, headers).status_code == 409


def test_concurrent_replays_accept_exactly_one(live: str) -> None:
    headers = sign_standard_webhooks(HMAC_SECRET, "msg-race", int(time.time()), BODY)
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = sorted(pool.map(lambda _: post(live, headers).status_code, range(12)))
    assert codes == [202] + [409] * 11


def test_a_failed_delivery_may_be_retried_with_the_same_id(
    live: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingest.ingest_alerts
    failures = [OperationalError("INSERT INTO alert", {}, Exception("database is locked"))]

    def locked_once(session: Session, *args: object, **kwargs: object) -> ingest.IngestResult:
        if failures:
            raise failures.pop()
        return real(session, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "ingest_alerts", locked_once)
    headers = sign_standard_webhooks(HMAC_SECRET, "msg-retry", int(time.time()), BODY)
    assert post(live, headers).status_code == 503  # the id was rolled back with the alert
    assert post(live, headers).status_code == 202
    assert post(live, headers).status_code == 409
    assert stored() == 1


def test_ids_expire_with_their_window(irp_home: object) -> None:
    now = utcnow()
    with session_scope() as session:
        replay.remember_message(session, "old", now - timedelta(seconds=1))
        replay.remember_message(session, "live", now + timedelta(minutes=5))
    with session_scope() as session:
        replay.remember_message(session, "old", now + timedelta(minutes=5))  # taken over
        with pytest.raises(replay.Replayed):
            replay.remember_message(session, "live", now + timedelta(minutes=5))
    with session_scope() as session:
        replay.remember_message(session, "gone", now - timedelta(seconds=1))
        assert replay.forget_expired(session) == 1
        assert len(list(session.exec(select(SeenWebhookMessage)))) == 2
