"""Delivery through real Apprise to a real loopback receiver; sleeps are recorded, not slept."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from irp.errors import InvalidInput
from irp.notify.delivery import DeliveryResult, deliver, deliver_many, parse_retry_after
from tests.notify.receiver import Receiver, closed_port

SECRET = "s3cret-Passw0rd"
NOW = datetime(2025, 11, 1, 8, 0, tzinfo=UTC)


class Sleeps(list[float]):
    """An injected `sleep` that records each requested wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def test_first_try_success_delivers_title_and_body(receiver: Receiver, sleeps: Sleeps) -> None:
    result = deliver(receiver.url("json", "/hook"), "P1: checkout down", "details", sleep=sleeps)

    assert result.ok and result.error is None
    assert len(result.attempts) == 1
    attempt = result.attempts[0]
    assert (attempt.number, attempt.ok, attempt.status_code) == (1, True, 200)
    assert attempt.started_at <= attempt.finished_at
    assert sleeps == []
    [request] = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json["title"] == "P1: checkout down"
    assert request.json["message"] == "details"
    assert request.json["type"] == "info"
    assert result.target.startswith("json://127.0.0.1:")


def test_server_error_then_success_backs_off_once(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.respond_with((500, {}), (200, {}))

    result = deliver(receiver.url(), "t", "b", sleep=sleeps, base_delay_s=2.0)

    assert result.ok
    assert [(a.number, a.ok, a.status_code) for a in result.attempts] == [
        (1, False, 500),
        (2, True, 200),
    ]
    assert result.attempts[0].error == "HTTP 500 Internal Server Error"
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 2.0
    assert len(receiver.requests) == 2


def test_backoff_is_exponential_full_jitter_and_capped(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.always(503)

    result = deliver(
        receiver.url(),
        "t",
        "b",
        sleep=sleeps,
        max_attempts=6,
        base_delay_s=1.0,
        max_delay_s=5.0,
        rng=random.Random(7),
    )

    expected_rng = random.Random(7)
    expected = [expected_rng.uniform(0, min(5.0, 2.0**n)) for n in range(5)]
    assert sleeps == expected
    assert not result.ok and len(result.attempts) == 6


def test_429_retry_after_seconds_is_waited_exactly(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.respond_with((429, {"Retry-After": "7"}), (200, {}))

    result = deliver(receiver.url(), "t", "b", sleep=sleeps)

    assert result.ok
    assert sleeps == [7.0]
    first = result.attempts[0]
    assert (first.status_code, first.retry_after_s) == (429, 7.0)
    assert first.error == "HTTP 429 Too Many Requests"


def test_429_retry_after_http_date_uses_the_clock(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.respond_with(
        (429, {"Retry-After": format_datetime(NOW + timedelta(seconds=42), usegmt=True)})
    )

    result = deliver(receiver.url(), "t", "b", sleep=sleeps, clock=lambda: NOW)

    assert result.ok
    assert sleeps == [42.0]
    assert result.attempts[0].started_at == NOW


def test_retry_after_is_capped(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.respond_with((429, {"Retry-After": "86400"}))

    result = deliver(receiver.url(), "t", "b", sleep=sleeps, max_retry_after_s=120.0)

    assert result.ok
    assert sleeps == [120.0]
    assert result.attempts[0].retry_after_s == 86400.0


def test_429_without_retry_after_falls_back_to_backoff(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.respond_with((429, {}))

    result = deliver(receiver.url(), "t", "b", sleep=sleeps, base_delay_s=0.5)

    assert result.ok and result.attempts[0].retry_after_s is None
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 0.5


def test_always_500_gives_up_after_max_attempts(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.always(500)

    result = deliver(receiver.url(), "t", "b", sleep=sleeps, max_attempts=3)

    assert not result.ok
    assert [a.number for a in result.attempts] == [1, 2, 3]
    assert all(a.status_code == 500 and not a.ok for a in result.attempts)
    assert result.error == "HTTP 500 Internal Server Error"
    assert len(sleeps) == 2
    assert len(receiver.requests) == 3


def test_permanent_client_error_is_not_retried(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.always(404)

    result = deliver(receiver.url(), "t", "b", sleep=sleeps)

    assert not result.ok
    assert [a.status_code for a in result.attempts] == [404]
    assert sleeps == []


def test_closed_port_records_error_without_raising(sleeps: Sleeps) -> None:
    result = deliver(f"json://127.0.0.1:{closed_port()}/", "t", "b", sleep=sleeps, max_attempts=2)

    assert not result.ok
    assert len(result.attempts) == 2
    for attempt in result.attempts:
        assert attempt.status_code is None
        assert attempt.error == "connection failed (ConnectionError)"


def test_per_target_read_timeout(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.stall()

    result = deliver(receiver.url(), "t", "b", sleep=sleeps, timeout_s=0.2, max_attempts=1)

    assert not result.ok
    assert result.attempts[0].error == "read timeout after 0.2s (ReadTimeout)"


def test_credentials_never_leak(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.always(500)
    url = receiver.url("json", "/", userinfo=f"user:{SECRET}")

    failed = deliver(url, "t", "b", sleep=sleeps, max_attempts=2)
    unreachable = deliver(
        f"json://user:{SECRET}@127.0.0.1:{closed_port()}/", "t", "b", sleep=sleeps, max_attempts=2
    )
    invalid = deliver(f"foo://user:{SECRET}@example.invalid/", "t", "b", sleep=sleeps)

    assert receiver.requests[0].headers["Authorization"].startswith("Basic ")
    for result in (failed, unreachable, invalid):
        assert SECRET not in repr(result)
        assert all(SECRET not in (a.error or "") for a in result.attempts)
    assert failed.target.startswith("json://user:****@")


def test_non_http_failure_reports_scrubbed_apprise_detail(sleeps: Sleeps) -> None:
    url = (
        f"mailto://someone:{SECRET}@127.0.0.1:{closed_port()}"
        "?smtp=127.0.0.1&from=irp@example.com&to=oncall@example.com"
    )

    result = deliver(url, "t", "b", sleep=sleeps, max_attempts=1)

    assert not result.ok
    [attempt] = result.attempts
    assert attempt.status_code is None
    assert attempt.error is not None and attempt.error.startswith("delivery failed")
    assert SECRET not in repr(result)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("foo://host/path", "unsupported notification URL scheme 'foo://'"),
        ("json://", "invalid notification URL for scheme 'json://'"),
        ("no scheme at all", "notification URL has no scheme (expected e.g. 'json://host/path')"),
    ],
)
def test_unusable_url_fails_cleanly_without_retry(url: str, error: str, sleeps: Sleeps) -> None:
    result = deliver(url, "t", "b", sleep=sleeps)

    assert result == DeliveryResult(target=result.target, ok=False, attempts=[], error=error)
    assert sleeps == []


def test_optional_flag_cannot_hide_a_failure(receiver: Receiver, sleeps: Sleeps) -> None:
    receiver.always(500)

    result = deliver(receiver.url("json", "/?optional=yes"), "t", "b", sleep=sleeps, max_attempts=1)

    assert not result.ok


def test_deliver_many_keeps_order_and_isolates_failures(receiver: Receiver, sleeps: Sleeps) -> None:
    urls = [receiver.url("json", "/a"), "foo://x", receiver.url("json", "/b")]

    results = deliver_many(urls, "t", "b", sleep=sleeps)

    assert [r.ok for r in results] == [True, False, True]
    assert [r.path for r in receiver.requests] == ["/a", "/b"]


def test_concurrent_deliveries_attribute_status_to_the_right_target(sleeps: Sleeps) -> None:
    with (
        Receiver(default=(500, {})) as failing,
        Receiver() as healthy,
        ThreadPoolExecutor(4) as pool,
    ):
        futures = [
            pool.submit(deliver, rx.url(), "t", "b", sleep=sleeps, max_attempts=2)
            for rx in (failing, healthy, failing, healthy)
        ]
        results = [f.result() for f in futures]

    assert [[a.status_code for a in r.attempts] for r in results] == [
        [500, 500],
        [200],
        [500, 500],
        [200],
    ]


def test_requests_outside_deliver_are_untouched(receiver: Receiver, sleeps: Sleeps) -> None:
    deliver(receiver.url(), "t", "b", sleep=sleeps)

    response = requests.get(f"http://127.0.0.1:{receiver.port}/plain", timeout=5)

    assert response.status_code == 200
    assert receiver.requests[-1].path == "/plain"


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_attempts", 0), ("base_delay_s", -1.0), ("timeout_s", 0.0), ("max_retry_after_s", -1.0)],
)
def test_bad_arguments_name_the_field(field: str, value: float) -> None:
    with pytest.raises(InvalidInput, match=field):
        deliver("json://127.0.0.1/", "t", "b", **{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("Sat, 01 Nov 2025 08:01:00 GMT", 60.0),
        ("Sat, 01 Nov 2025 07:00:00 GMT", 0.0),
        ("soon", None),
        ("-3", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected
