"""`irp metrics` over 100,000 historical incidents in a fresh SQLite database.

The history is bulk-inserted first (not timed); the timed part is what `irp metrics
--format json` does: one SQL query, the pandas groupbys and the JSON text.
Prints one JSON line: metrics_100k_s (target below 2) and metrics_100k_cli_s (the same
through a fresh `irp metrics` process, interpreter and imports included).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from models.intake import INTAKE_MODELS

N = 100_000
TYPES = [t.value for t in INTAKE_MODELS]  # the types responded to (not unknown)
PRIORITIES = ["P1", "P2", "P3", "P4", None]


def generate(n: int, seed: int = 7) -> list[dict[str, object]]:
    """Two years of incidents with skewed milestone times; some never contained or resolved,
    a fifth with no known time of occurrence (time to detect blank)."""
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    offsets = rng.integers(0, 730 * 24 * 60, n)
    ack = rng.lognormal(2.5, 0.8, n)
    contain = ack + rng.lognormal(4, 1, n)
    resolve = contain + rng.lognormal(5, 1, n)
    open_ = rng.random(n) < 0.05
    detect = rng.lognormal(3, 1.2, n)
    occurred_unknown = rng.random(n) < 0.2
    rows: list[dict[str, object]] = []
    for i in range(n):
        detected = start + timedelta(minutes=int(offsets[i]))
        rows.append(
            {
                "id": f"INC-B{i:07d}",
                "type": TYPES[i % len(TYPES)],
                "priority": PRIORITIES[i % 5],
                "summary": "benchmark",
                "reporter": "bench",
                "status": "closed",
                "stage": "post_incident_report",
                "drill": bool(i % 50 == 0),
                "description": "",
                "facts": {},
                "scope": {},
                "options": {},
                "occurred_at": None
                if occurred_unknown[i]
                else detected - timedelta(minutes=float(detect[i])),
                "detected_at": detected,
                "activated_at": detected + timedelta(minutes=float(ack[i])),
                "contained_at": None
                if open_[i]
                else detected + timedelta(minutes=float(contain[i])),
                "resolved_at": None
                if open_[i]
                else detected + timedelta(minutes=float(resolve[i])),
                "created_at": detected,
            }
        )
    return rows


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="irp-bench-metrics-"))
    os.environ["IRP_HOME"] = str(home)
    os.environ.pop("IRP_DATABASE_URL", None)
    from irp.db import get_engine
    from irp.reporting import metrics
    from models import Incident

    engine = get_engine()
    rows = generate(N)
    with engine.begin() as connection:
        connection.execute(Incident.__table__.insert(), rows)  # type: ignore[attr-defined]
    del rows
    times = []
    for _ in range(3):
        began = time.perf_counter()
        result = metrics.collect(engine)
        text = result.to_json()
        times.append(time.perf_counter() - began)
    print(
        f"metrics over {result.incidents} incidents (drills excluded): runs {times}, "
        f"{len(text)} bytes of JSON",
        file=sys.stderr,
    )
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "irp.cli", "metrics", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    cli_s = time.perf_counter() - began
    shutil.rmtree(home, ignore_errors=True)
    if done.returncode != 0 or json.loads(done.stdout)["incidents"] != result.incidents:
        print(done.stderr[-2000:], file=sys.stderr)
        return 1
    figures = {"metrics_100k_s": round(statistics.median(times), 3)}
    figures["metrics_100k_cli_s"] = round(cli_s, 3)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
