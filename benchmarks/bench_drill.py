"""drill_ratio_<type>: an auto-approved drill of each type divided by a bare Prefect flow of six
tasks, measured side by side in one process against one local server (target: at most 1.5).

A sync Prefect flow ends on a whole second after its start (it joins a heartbeat thread that
sleeps in 1 s steps), so both times are near-multiples of a second: medians of interleaved
rounds, against the pooled bare median, keep one unlucky run from deciding the figure."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

ROUNDS = 5


def main() -> None:
    home = tempfile.mkdtemp(prefix="irp-bench-drill-")
    os.environ["IRP_HOME"] = home
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ["PREFECT_HOME"] = os.path.join(home, "prefect")

    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    from flows.registry import FLOWS
    from models.enums import IncidentType
    from models.intake import INTAKE_MODELS

    @task
    def step(i: int) -> int:
        return i

    @flow
    def bare_six_tasks() -> int:
        return sum(step(i) for i in range(6))

    def drill(itype: IncidentType) -> Callable[[], object]:
        intake_model = INTAKE_MODELS[itype]
        facts = {"summary": "benchmark drill", "reporter": "bench", **intake_model.drill_facts}
        intake = intake_model.model_validate(facts)
        return lambda: FLOWS[itype](intake=intake, drill=True, auto_approve=True)

    def timed(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    figures: dict[str, float] = {}
    with prefect_test_harness(server_startup_timeout=120):
        timed(bare_six_tasks)  # warm both paths once
        for itype in INTAKE_MODELS:
            timed(drill(itype))
        bare: list[float] = []
        ours: dict[IncidentType, list[float]] = {itype: [] for itype in INTAKE_MODELS}
        for _ in range(ROUNDS):  # interleaved: the machine's drift hits both alike
            for itype in INTAKE_MODELS:
                bare.append(timed(bare_six_tasks))
                ours[itype].append(timed(drill(itype)))
        print(f"bare: {[round(b, 2) for b in bare]}", file=sys.stderr)
        for itype, times in ours.items():
            print(f"{itype.value}: {[round(t, 2) for t in times]}", file=sys.stderr)
        baseline = statistics.median(bare)  # pooled: one slow bare run does not skew a type
        figures["bare_six_task_flow_s"] = round(baseline, 3)
        for itype, times in ours.items():
            figures[f"drill_ratio_{itype.value}"] = round(statistics.median(times) / baseline, 3)
            figures[f"drill_s_{itype.value}"] = round(statistics.median(times), 3)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
