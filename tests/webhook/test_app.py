"""The HTTP contract: auth, every bad input's 4xx naming the field, OpenAPI, no 5xx."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error

from deployments.webhook import create_app
from irp.alerts.auth import sign_grafana, sign_standard_webhooks
from irp.errors import InvalidInput
from irp.settings import Settings
from tests.webhook.conftest import AUTH, HMAC_SECRET, TOKEN
from tests.webhook.payloads import am_alert, am_body
from tests.webhook.server import serve

FIXTURES = Path(__file__).parent.parent / "alerts" / "fixtures"
BODY = json.dumps(am_body([am_alert("CheckoutDown")])).encode()
JSON_CT = {"Content-Type": "application/json"}


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def test_refuses_to_start_without_credentials(irp_home: Path) -> None:
    from irp.settings import get_settings

    with pytest.raises(InvalidInput, match="IRP_WEBHOOK_TOKEN"):
        create_app(get_settings())
    demo = create_app(get_settings().model_copy(update={"webhook_local_demo": True}))
    with serve(demo) as url:
        answer = httpx.post(f"{url}/alerts/alertmanager", content=BODY, headers=JSON_CT)
    assert answer.status_code == 202


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.0.2.10", "irp.example.com"])
def test_local_demo_refuses_a_host_beyond_loopback(irp_home: Path, host: str) -> None:
    from irp.settings import get_settings

    demo = get_settings().model_copy(update={"webhook_local_demo": True, "webhook_host": host})
    with pytest.raises(InvalidInput, match=r"--host \(IRP_WEBHOOK_HOST\).*loopback"):
        create_app(demo)
    secured = demo.model_copy(update={"webhook_token": SecretStr(TOKEN)})
    create_app(secured)  # with credentials any interface is fine


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_local_demo_on_loopback_starts(irp_home: Path, host: str) -> None:
    from irp.settings import get_settings

    create_app(get_settings().model_copy(update={"webhook_local_demo": True, "webhook_host": host}))


def test_cli_local_demo_on_every_interface_exits_2(
    irp_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from irp.cli.main import main

    assert main(["webhook", "--local-demo", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "'0.0.0.0' is not a loopback address" in err
    assert "Traceback" not in err


def test_local_demo_app_answers_only_loopback_clients(irp_home: Path) -> None:
    """The app checks each client too: a demo app served on all interfaces by other means
    (uvicorn directly) still refuses a client from another host."""
    from irp.settings import get_settings

    demo = create_app(get_settings().model_copy(update={"webhook_local_demo": True}))

    async def post_from(client: tuple[str, int]) -> httpx.Response:
        transport = httpx.ASGITransport(app=demo, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://irp") as remote:
            return await remote.post("/alerts/alertmanager", content=BODY, headers=JSON_CT)

    refused = asyncio.run(post_from(("192.0.2.10", 40000)))
    assert refused.status_code == 403
    assert "loopback" in refused.json()["detail"]
    assert asyncio.run(post_from(("127.0.0.1", 40000))).status_code == 202


def test_bad_hmac_secret_refused(settings: Settings) -> None:
    from pydantic import SecretStr

    with pytest.raises(InvalidInput, match="IRP_WEBHOOK_HMAC_SECRET"):
        create_app(settings.model_copy(update={"webhook_hmac_secret": SecretStr("whsec_!!")}))


def test_secrets_may_come_from_prefect_secret_blocks(irp_home: Path, prefect_api: str) -> None:
    from prefect.blocks.system import Secret

    from irp.settings import get_settings

    Secret(value="block-token").save("irp-webhook-token-test", overwrite=True)
    settings = get_settings().model_copy(update={"webhook_token_block": "irp-webhook-token-test"})
    with TestClient(create_app(settings)) as test_client:
        post = test_client.post
        bearer = {**JSON_CT, "Authorization": "Bearer block-token"}
        assert post("/alerts/alertmanager", content=BODY, headers=bearer).status_code == 202
        assert post("/alerts/alertmanager", content=BODY, headers=JSON_CT).status_code == 401

    missing = settings.model_copy(update={"webhook_token_block": "no-such-block"})
    with pytest.raises(InvalidInput, match="IRP_WEBHOOK_TOKEN_BLOCK: cannot load Secret block"):
        create_app(missing)


@pytest.mark.parametrize("source", ["alertmanager", "grafana", "cloudevents", "generic"])
def test_each_source_accepts_its_fixture(client: TestClient, source: str) -> None:
    body = (FIXTURES / f"{source}.json").read_bytes()
    ctype = "application/cloudevents+json" if source == "cloudevents" else "application/json"
    answer = client.post(f"/alerts/{source}", content=body, headers={**AUTH, "Content-Type": ctype})
    assert answer.status_code == 202, answer.text
    assert answer.json()["stored"] >= 1


def test_auth_methods(client: TestClient) -> None:
    def post(headers: dict[str, str]) -> int:
        return client.post(
            "/alerts/alertmanager", content=BODY, headers={**JSON_CT, **headers}
        ).status_code

    basic = base64.b64encode(f"alertmanager:{TOKEN}".encode()).decode()
    now = int(time.time())
    assert post({"Authorization": f"Basic {basic}"}) == 202
    assert post(sign_standard_webhooks(HMAC_SECRET, "msg-1", now, BODY)) == 202
    assert post(sign_grafana(HMAC_SECRET, BODY, now)) == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Basic " + base64.b64encode(b"alertmanager:nope").decode()},
        sign_standard_webhooks(HMAC_SECRET, "m", 1_000_000, BODY),  # stale timestamp
        sign_grafana("other-secret", BODY, int(time.time())),
        sign_grafana(HMAC_SECRET, BODY, 1_000_000),  # stale timestamp
    ],
)
def test_failed_auth_is_a_bare_401(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post("/alerts/alertmanager", content=BODY, headers={**JSON_CT, **headers})
    assert answer.status_code == 401
    assert answer.json() == {"detail": "unauthorized", "field": None}


def test_bad_inputs_name_the_field(client: TestClient) -> None:
    def post(
        content: bytes, ctype: str = "application/json", path: str = "alertmanager"
    ) -> httpx.Response:
        return client.post(
            f"/alerts/{path}", content=content, headers={**AUTH, "Content-Type": ctype}
        )

    assert post(b"{not json").status_code == 400
    assert post(b'{"a": NaN}').json()["field"] == "body"
    assert post(b'{"alerts": [{"labels": {"a": "\\ud800"}}]}').status_code == 400
    assert post(BODY, "text/plain").status_code == 415
    assert post(BODY, "text/plain").json()["field"] == "Content-Type"
    wrong = am_body([am_alert("X")])
    wrong["alerts"][0]["startsAt"] = "yesterday"
    answer = post(json.dumps(wrong).encode())
    assert answer.status_code == 422
    assert answer.json()["field"] == "alerts[0].startsAt"
    assert post(b"[]").json()["field"] == "body"
    assert post(b"[]", path="generic").json()["field"] == "body"
    assert post(b'{"a": 1e400}').json() == {
        "detail": "body: number 1e400 is out of range",
        "field": "body",
    }
    assert post(b'{"a": ' + b"9" * 5000 + b"}").json()["detail"] == (
        "body: a number has too many digits"
    )
    assert post(b"\xff\xfe{", path="generic").status_code == 400


def test_body_limit_on_header_and_on_bytes_read(settings: Settings, dispatches: object) -> None:
    small = create_app(settings.model_copy(update={"webhook_max_body": 1000}), dispatch=dispatches)  # type: ignore[arg-type]
    big = json.dumps(am_body([am_alert(f"A{i}") for i in range(50)])).encode()
    with TestClient(small) as client:
        answer = client.post("/alerts/alertmanager", content=big, headers={**AUTH, **JSON_CT})
        assert answer.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
            yield big[:500]
            yield big[500:]

        answer = client.post("/alerts/alertmanager", content=chunks(), headers={**AUTH, **JSON_CT})
        assert answer.status_code == 413
        assert answer.json()["field"] == "body"


def test_healthz_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    doc = client.get("/openapi.json").json()
    assert set(doc["paths"]) >= {
        f"/alerts/{s}" for s in ("alertmanager", "grafana", "cloudevents", "generic")
    }
    body = doc["paths"]["/alerts/generic"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("GenericBody")
    assert client.get("/docs").status_code == 200


def test_schemathesis_no_server_errors(app: FastAPI) -> None:
    """Every operation in the OpenAPI document, 50 generated requests each: never a 5xx."""
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 5

    for operation in operations:

        @given(case=operation.as_strategy())
        @hsettings(
            max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_5xx(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH, checks=[not_a_server_error])

        no_5xx()


def test_sender_gone_mid_body_is_answered_without_a_crash(app: FastAPI) -> None:
    """Alertmanager gives up on a slow receiver and retries: the half-read body is a 400, not
    an exception in the server's log, and nothing is stored."""
    import asyncio

    from sqlmodel import func, select

    from irp.db import session_scope
    from models import Alert

    messages = [
        {"type": "http.request", "body": b'{"title": "half', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/alerts/generic",
        "raw_path": b"/alerts/generic",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"authorization", AUTH["Authorization"].encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8765),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(Alert)).one() == 0
