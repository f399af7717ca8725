"""A real HTTP receiver on 127.0.0.1 for notification tests.

It records every request and answers from a programmable script, so tests can drive
Apprise (and anything else that speaks HTTP) against a real socket instead of mocks:

    with Receiver([(500, {}), (429, {"Retry-After": "2"})]) as rx:
        deliver(rx.url("json", "/hook"), "t", "b")
        assert rx.requests[0].json["title"] == "t"

Once the script runs out, every request gets `default` (200 unless set).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"

# (status, headers) or (status, headers, body bytes)
Response = tuple[int, dict[str, str]] | tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived; `json` is None when the body is not JSON."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Receiver:
    """Threaded HTTP server on an ephemeral port of `host` (loopback unless a test network
    says otherwise); thread-safe."""

    def __init__(
        self, script: Iterable[Response] = (), default: Response = (200, {}), host: str = HOST
    ) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._script: deque[Response] = deque(script)
        self._default: Response = default
        self._requests: list[RecordedRequest] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stalling = False
        self._release = threading.Event()

    # -- programming the answers -------------------------------------------------
    def respond_with(self, *responses: Response) -> None:
        """Replace the script: the next requests get these answers, in order."""
        with self._lock:
            self._script = deque(responses)

    def always(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer every request (after any scripted ones) with this response."""
        with self._lock:
            self._default = (status, dict(headers or {}))

    def stall(self) -> None:
        """Hold every answer until `release()` or `close()`, to provoke client timeouts."""
        with self._lock:
            self._stalling = True
            self._release.clear()

    def release(self) -> None:
        """Let stalled and future requests be answered."""
        with self._lock:
            self._stalling = False
        self._release.set()

    # -- what arrived ---------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("receiver is not started")
        return int(self._server.server_address[1])

    def url(self, scheme: str = "json", path: str = "/", userinfo: str = "") -> str:
        """An Apprise (or plain http) URL pointing at this receiver."""
        auth = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{auth}{self.host}:{self.port}{path}"

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = receiver._record_and_answer(
                    self.command, self.path, dict(self.headers.items()), body
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        self._server = _QuietServer((self.host, 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll
            name="notify-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _record_and_answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Record before answering, so a client that got its reply sees its request."""
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self._lock:
            self._requests.append(RecordedRequest(method, path, headers, body, parsed))
            response = self._script.popleft() if self._script else self._default
            stalling = self._stalling
        if stalling:
            self._release.wait(timeout=30)
        status, answer_headers = response[0], response[1]
        payload = response[2] if len(response) > 2 else b""
        return status, dict(answer_headers), payload


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released, by us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])
