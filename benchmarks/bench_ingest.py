"""Ingest throughput of the webhook vs a bare FastAPI endpoint (parse JSON, answer 202).

Both run under the same uvicorn settings in a subprocess, loaded by the same client at the
same concurrency in the same run. Every irp request carries a distinct Alertmanager alert
(20 services, so most attach to an open incident); dispatch is a counter, not Prefect.
Rounds interleave bare, SQLite and PostgreSQL (a loaded machine drifts); each ratio is the
median over rounds of irp's rate / the bare rate of the same round, printed with its min and max.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
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
REQUESTS = 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
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


def measure(
    factory: str, home: Path, database_url: str = "", offset: int = 0
) -> tuple[float, list[float]]:
    """Requests/s and latencies (ms) of one round; `offset` keeps each round's alerts new."""
    with uvicorn_process(factory, home, database_url=database_url) as url:
        asyncio.run(load(url, bodies(WARMUP, 10**6 + offset)))
        wall, latencies = asyncio.run(load(url, bodies(REQUESTS, offset)))
    return REQUESTS / wall, latencies


def rounds(tmp: Path) -> Iterator[dict[str, tuple[float, list[float]]]]:
    """Per round: the bare endpoint, then irp on each database (one database per kind for
    all rounds)."""
    with ExitStack() as stack:
        urls = {kind: stack.enter_context(irp_database(kind, tmp / kind)) for kind in DATABASES}
        for n in range(ROUNDS):
            offset = n * 10 * REQUESTS
            results = {"bare": measure("bare_app", tmp / f"bare-{n}")}
            for kind, url in urls.items():
                results[kind] = measure("irp_app", tmp / kind, url, offset)
            yield results


def main() -> None:
    """Figures for PostgreSQL end in `_pg`; latencies pool every round's requests."""
    ratios: dict[str, list[float]] = {kind: [] for kind in DATABASES}
    rates: dict[str, list[float]] = {kind: [] for kind in ("bare", *DATABASES)}
    latencies: dict[str, list[float]] = {kind: [] for kind in DATABASES}
    with tempfile.TemporaryDirectory(prefix="irp-bench-ingest-") as tmp:
        for results in rounds(Path(tmp)):
            bare_rps = results["bare"][0]
            rates["bare"].append(bare_rps)
            for kind in DATABASES:
                rps, lat = results[kind]
                rates[kind].append(rps)
                ratios[kind].append(rps / bare_rps)
                latencies[kind].extend(lat)
                print(f"{kind}: {rps:.0f} vs bare {bare_rps:.0f} requests/s", file=sys.stderr)
    figures: dict[str, float] = {"ingest_bare_rps": round(statistics.median(rates["bare"]), 1)}
    for kind in DATABASES:
        cuts = statistics.quantiles(latencies[kind], n=100)
        suffix = FIGURE_SUFFIX[kind]
        figures |= {
            f"ingest_rps{suffix}": round(statistics.median(rates[kind]), 1),
            f"ingest_ratio{suffix}": round(statistics.median(ratios[kind]), 3),
            f"ingest_ratio{suffix}_min": round(min(ratios[kind]), 3),
            f"ingest_ratio{suffix}_max": round(max(ratios[kind]), 3),
            f"ingest_p50_ms{suffix}": round(cuts[49], 2),
            f"ingest_p99_ms{suffix}": round(cuts[98], 2),
        }
    print(f"concurrency {CONCURRENCY}, {ROUNDS} rounds of {REQUESTS} requests", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
