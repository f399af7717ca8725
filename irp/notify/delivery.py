"""Notification delivery over Apprise that an incident can rely on.

Apprise sends one notification and answers True or False; it treats HTTP 429 as a
plain failure and ignores Retry-After. `deliver` adds what an incident needs: its own
retries with capped exponential backoff and full jitter, per-target socket timeouts
(Apprise's `cto`/`rto` URL arguments), Retry-After honoured on 429/503, a record of
every attempt, and no exception ever escaping into the incident.

How the HTTP status and Retry-After of an attempt are learned: Apprise's HTTP plugins
call `requests` directly (a throw-away `requests.Session` per call, or a subclass of
it), so there is no per-plugin session to attach a response hook to. Every one of
those calls goes through `requests.Session.send`, a public method stable for a
decade. We wrap it once, process-wide, with an observer that is a no-op unless a
context variable holds a list; `deliver` sets that list for the duration of one
attempt and reads back the status code, the Retry-After header or the exception
class. Context variables keep concurrent deliveries apart, and Apprise copies the
context into its worker threads. Parsing Apprise's log text instead would depend on
each plugin's wording and still could not see Retry-After. Non-HTTP plugins (SMTP,
...) leave the list empty; their Apprise log lines, with URL secrets scrubbed, become
the error text.

Apprise's own per-service throttle (a minimum gap between two sends through one
plugin, zero for json://) still applies on top of our waits; it only sleeps for
whatever part of its gap our wait has not already covered.
"""

from __future__ import annotations

import contextvars
import functools
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

import apprise
import requests
from apprise.plugins import N_MGR, url_to_dict

from irp.errors import InvalidInput

__all__ = ["Attempt", "DeliveryResult", "deliver", "deliver_many", "parse_retry_after"]

# Statuses whose Retry-After header we honour (RFC 9110 section 10.2.3).
_RETRY_AFTER_STATUSES = frozenset({429, 503})
# 4xx answers that may succeed later; every other 4xx is final and not retried.
_TRANSIENT_4XX = frozenset({408, 425, 429})
_SCHEME_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")
_MIN_SECRET_LEN = 8
_REPORTED_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Attempt:
    """One try at one target; `error` never carries URL credentials."""

    number: int
    started_at: datetime
    finished_at: datetime
    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None


@dataclass
class DeliveryResult:
    """Outcome for one target; `target` is Apprise's privacy (masked) URL."""

    target: str
    ok: bool
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class _Observed:
    """What `requests` saw for one HTTP exchange: a response or an exception."""

    status_code: int | None
    retry_after: str | None
    exception: str | None


_observations: contextvars.ContextVar[list[_Observed] | None] = contextvars.ContextVar(
    "irp_notify_observations", default=None
)
_install_lock = threading.Lock()


def _install_requests_observer() -> None:
    """Wrap `requests.Session.send` once; a pass-through outside `deliver`."""
    with _install_lock:
        original = requests.Session.send
        if getattr(original, "_irp_observer", False):
            return

        @functools.wraps(original)
        def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
            sink = _observations.get()
            if sink is None:
                return original(self, request, **kwargs)
            try:
                response = original(self, request, **kwargs)
            except Exception as exc:
                sink.append(_Observed(None, None, type(exc).__name__))
                raise
            sink.append(_Observed(response.status_code, response.headers.get("Retry-After"), None))
            return response

        send._irp_observer = True  # type: ignore[attr-defined]
        requests.Session.send = send  # type: ignore[method-assign]


@contextmanager
def _observe() -> Iterator[list[_Observed]]:
    seen: list[_Observed] = []
    token = _observations.set(seen)
    try:
        yield seen
    finally:
        _observations.reset(token)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date)."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _scheme(url: str) -> str | None:
    match = _SCHEME_RE.match(url)
    return match.group(1).lower() if match else None


def _secrets_of(url: str) -> list[str]:
    """Strings from the URL that may be credentials, longest first, for scrubbing."""
    found: set[str] = set()
    try:
        parts = urlsplit(url.strip())
        if parts.password:
            found.update({parts.password, unquote(parts.password)})
        if parts.username:
            found.update({parts.username, unquote(parts.username)})
        tokens = re.split(r"[/?&=#]", f"{parts.path}?{parts.query}")
        found.update(t for t in tokens if len(t) >= _MIN_SECRET_LEN)
        found.update(unquote(t) for t in tokens if len(t) >= _MIN_SECRET_LEN)
    except ValueError:
        pass
    return sorted((s for s in found if s), key=len, reverse=True)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "****")
    return text


def _invalid(url: str, message: str) -> DeliveryResult:
    scheme = _scheme(url)
    target = f"{scheme}://****" if scheme else "****"
    return DeliveryResult(target=target, ok=False, attempts=[], error=message)


def _prepare(url: str, timeout_s: float) -> tuple[apprise.Apprise, str] | str:
    """An Apprise holding the target with our timeouts and no Apprise retries, plus the
    masked URL; or an error message for a URL Apprise cannot use."""
    scheme = _scheme(url)
    if scheme is None:
        return "notification URL has no scheme (expected e.g. 'json://host/path')"
    tokens = url_to_dict(url, secure_logging=True)
    if tokens is None:
        if scheme not in N_MGR:
            return f"unsupported notification URL scheme '{scheme}://'"
        return f"invalid notification URL for scheme '{scheme}://'"
    # `cto`/`rto`/`retry` are the URL arguments; the dict form avoids rewriting URL text.
    shown = apprise.Apprise.instantiate(dict(tokens))
    plugin = apprise.Apprise.instantiate(
        {**tokens, "cto": str(timeout_s), "rto": str(timeout_s), "retry": "0"}
    )
    if shown is None or plugin is None:
        return f"invalid notification URL for scheme '{scheme}://'"
    notifier = apprise.Apprise()
    notifier.add(plugin)
    return notifier, str(shown.url(privacy=True))


def _transport_error(name: str, timeout_s: float) -> str:
    if name == "ConnectTimeout":
        return f"connect timeout after {timeout_s:g}s ({name})"
    if name == "ReadTimeout":
        return f"read timeout after {timeout_s:g}s ({name})"
    if name == "SSLError":
        return f"TLS error ({name})"
    if name in {"ConnectionError", "ProxyError"}:
        return f"connection failed ({name})"
    return f"request failed ({name})"


def _http_error(code: int) -> str:
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def _run_once(
    notifier: apprise.Apprise, title: str, body: str
) -> tuple[bool, list[_Observed], list[str], bool]:
    """One Apprise send: (ok, HTTP observations, warning log lines, timed out)."""
    with _observe() as seen:
        result = notifier.notify(body=body, title=title)
    services = list(result)
    if services and services[-1].attempts:
        # The raw attempt status, so an `optional=yes` URL cannot hide a failure.
        status = services[-1].attempts[-1].status
        ok = status == apprise.AppriseResultStatus.SUCCESS
        timed_out = status == apprise.AppriseResultStatus.TIMEOUT
    else:
        ok, timed_out = bool(result), False
    lines = [e.message for e in result.logs() if e.level in _REPORTED_LEVELS]
    return ok, list(seen), lines, timed_out


def _attempt(
    number: int,
    notifier: apprise.Apprise,
    title: str,
    body: str,
    *,
    timeout_s: float,
    secrets: list[str],
    clock: Callable[[], datetime],
) -> Attempt:
    started = clock()
    try:
        ok, seen, lines, timed_out = _run_once(notifier, title, body)
    except Exception as exc:  # never raise into the incident
        return Attempt(
            number, started, clock(), False, error=f"unexpected error ({type(exc).__name__})"
        )
    finished = clock()
    last = seen[-1] if seen else None
    code = last.status_code if last else None
    attempt = Attempt(number, started, finished, ok, status_code=code)
    if ok:
        return attempt
    if last is not None and last.exception is not None:
        attempt.error = _transport_error(last.exception, timeout_s)
    elif code is not None and 200 <= code < 300:
        attempt.error = f"service rejected the notification (HTTP {code})"
    elif code is not None:
        attempt.error = _http_error(code)
        if code in _RETRY_AFTER_STATUSES:
            attempt.retry_after_s = parse_retry_after(last.retry_after if last else None, finished)
    elif timed_out:
        attempt.error = f"timed out after {timeout_s:g}s"
    else:
        detail = "; ".join(_scrub(line, secrets) for line in lines[-3:])
        attempt.error = f"delivery failed: {detail}" if detail else "delivery failed"
    return attempt


def _retryable(attempt: Attempt) -> bool:
    code = attempt.status_code
    return not (code is not None and 400 <= code < 500 and code not in _TRANSIENT_4XX)


def _check(name: str, value: float, minimum: float) -> None:
    if value < minimum:
        raise InvalidInput(f"{name}: must be >= {minimum:g}, got {value!r}")


def deliver(
    url: str,
    title: str,
    body: str,
    *,
    max_attempts: int = 4,
    base_delay_s: float = 1.0,
    max_delay_s: float = 60.0,
    timeout_s: float = 10.0,
    max_retry_after_s: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = _utcnow,
    rng: random.Random | None = None,
) -> DeliveryResult:
    """Send one notification to one Apprise URL, retrying transient failures.

    Waits between attempts: a 429/503 Retry-After (seconds or HTTP-date, capped at
    `max_retry_after_s`) if given, else full-jitter exponential backoff
    `uniform(0, min(max_delay_s, base_delay_s * 2**(n-1)))`. A 4xx other than
    408/425/429 is final. Delivery failures never raise; bad arguments raise
    `InvalidInput` naming the argument.
    """
    _check("max_attempts", max_attempts, 1)
    _check("base_delay_s", base_delay_s, 0)
    _check("max_delay_s", max_delay_s, 0)
    _check("timeout_s", timeout_s, 0.001)
    _check("max_retry_after_s", max_retry_after_s, 0)
    for name, text in (("url", url), ("title", title), ("body", body)):
        if not isinstance(text, str):
            raise InvalidInput(f"{name}: must be a string, got {type(text).__name__}")
    jitter = rng or random.Random()
    try:
        prepared = _prepare(url, timeout_s)
    except Exception as exc:  # Apprise choked on the URL itself
        prepared = f"invalid notification URL ({type(exc).__name__})"
    if isinstance(prepared, str):
        return _invalid(url, prepared)
    notifier, target = prepared
    _install_requests_observer()
    secrets = _secrets_of(url)
    attempts: list[Attempt] = []
    for number in range(1, max_attempts + 1):
        attempt = _attempt(
            number, notifier, title, body, timeout_s=timeout_s, secrets=secrets, clock=clock
        )
        attempts.append(attempt)
        if attempt.ok or number == max_attempts or not _retryable(attempt):
            break
        if attempt.retry_after_s is not None:
            delay = min(attempt.retry_after_s, max_retry_after_s)
        else:
            delay = jitter.uniform(0, min(max_delay_s, base_delay_s * 2 ** (number - 1)))
        sleep(delay)
    last = attempts[-1]
    return DeliveryResult(target=target, ok=last.ok, attempts=attempts, error=last.error)


def deliver_many(
    urls: Iterable[str], title: str, body: str, **options: Any
) -> list[DeliveryResult]:
    """`deliver` to each URL in turn, same options; one result per URL, in order."""
    return [deliver(url, title, body, **options) for url in urls]
