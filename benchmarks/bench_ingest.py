"""Ingest throughput of the webhook vs a bare FastAPI endpoint (parse JSON, answer 202).

Both run under the same uvicorn settings in a subprocess, loaded by the same client at the
same concurrency in the same run. Every irp request carries a distinct Alertmanager alert
(20 services, so most attach to an open incident); dispatch is a counter, not Prefect.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.webhook_support import (
    DATABASES,
    FIGURE_SUFFIX,
    TOKEN,
    irp_database,
    uvicorn_process,
)

CONCURRENCY = 32
REQUESTS = 2000
WARMUP = 100


def bodies(count: int, offset: int) -> list[bytes]:
    out = []
    for i in range(offset, offset + count):
        alert = {
            "status": "firing",
            "labels": {"alertname": f"ApiErrorRateHigh{i}", "service": f"svc-{i % 20}"},
            "annotations": {"summary": f"error rate high #{i}"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{i:016x}",
        }
        body = {"version": "4", "status": "firing", "receiver": "irp", "alerts": [alert]}
        out.append(json.dumps(body).encode())
    return out


async def load(url: str, payloads: list[bytes]) -> tuple[float, list[float]]:
    """Send every payload with CONCURRENCY workers; return wall seconds and latencies (ms)."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                payload = queue.get_nowait()
                start = time.perf_counter()
                answer = await client.post(
                    f"{url}/alerts/alertmanager", content=payload, headers=headers
                )
                latencies.append((time.perf_counter() - start) * 1000)
                if answer.status_code != 202:
                    raise RuntimeError(f"status {answer.status_code}: {answer.text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - start, latencies


def measure(factory: str, home: Path, database_url: str = "") -> tuple[float, list[float]]:
    with uvicorn_process(factory, home, database_url=database_url) as url:
        asyncio.run(load(url, bodies(WARMUP, 10**6)))
        wall, latencies = asyncio.run(load(url, bodies(REQUESTS, 0)))
    return REQUESTS / wall, latencies


def main() -> None:
    """The bare endpoint, then irp on SQLite and on PostgreSQL, each ratio against the bare rate
    of the same run (figures for PostgreSQL end in `_pg`)."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="irp-bench-ingest-") as tmp:
        bare_rps, _ = measure("bare_app", Path(tmp) / "bare")
        figures["ingest_bare_rps"] = round(bare_rps, 1)
        for kind in DATABASES:
            home = Path(tmp) / kind
            with irp_database(kind, home) as database_url:
                irp_rps, latencies = measure("irp_app", home, database_url)
            cuts = statistics.quantiles(latencies, n=100)
            suffix = FIGURE_SUFFIX[kind]
            figures |= {
                f"ingest_rps{suffix}": round(irp_rps, 1),
                f"ingest_ratio{suffix}": round(irp_rps / bare_rps, 3),
                f"ingest_p50_ms{suffix}": round(cuts[49], 2),
                f"ingest_p99_ms{suffix}": round(cuts[98], 2),
            }
    print(f"concurrency {CONCURRENCY}, {REQUESTS} requests each", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
