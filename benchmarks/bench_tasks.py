"""tasks_resume_p95_s: ten parallel manual tasks of one stage, answered as `irp tasks done`
answers them; from the last answer to the next stage (logistics) started, for a run waiting
in its process (target < 2 s). A drill with people on a local server, ROUNDS times."""

from __future__ import annotations

import contextvars
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROUNDS = 5
TASKS = 10


def _plan(home: Path) -> Path:
    """system_failure with ten parallel manual tasks and nothing else in its response."""
    import yaml

    from irp.plan.loader import DEFAULT_PLAN_FILE

    data = yaml.safe_load(DEFAULT_PLAN_FILE.read_text(encoding="utf-8"))
    data["incident_types"]["system_failure"]["playbook"] = [
        {
            "key": f"task_{n}",
            "title": f"Task {n}",
            "group": "technical",
            "executor": "manual",
            "instructions": "benchmark",
        }
        for n in range(TASKS)
    ]
    path = home / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _until(check: Any, deadline_s: float = 120) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError("benchmark timed out")


def _one_round(plan_file: str) -> float:
    from sqlmodel import select

    from deployments.task_answers import answer
    from flows.registry import FLOWS
    from irp.db import session_scope
    from irp.response import manual
    from models import TimelineEvent
    from models.enums import IncidentType
    from models.intake import INTAKE_MODELS

    intake = INTAKE_MODELS[IncidentType.system_failure].model_validate(
        {"summary": "benchmark tasks", "reporter": "bench"}
    )
    run = threading.Thread(
        target=contextvars.copy_context().run,
        args=(FLOWS[IncidentType.system_failure],),
        kwargs={
            "intake": intake,
            "drill": True,
            "auto_approve": True,
            "with_people": True,
            "plan_file": plan_file,
        },
        daemon=True,
    )
    seen: set[str] = set()
    with session_scope() as session:
        seen = {t.incident_id for t in manual.list_tasks(session)}
    run.start()

    def opened() -> list[Any] | None:
        with session_scope() as session:
            mine = [
                t for t in manual.list_tasks(session, open_only=True) if t.incident_id not in seen
            ]
        return mine if len(mine) == TASKS else None

    tasks = _until(opened)
    incident_id = tasks[0].incident_id
    for task in tasks[:-1]:
        answer(task.id, manual.TaskAnswer("done", "sysadmin", "bench"))
    start = time.time()
    answer(tasks[-1].id, manual.TaskAnswer("done", "sysadmin", "bench"))

    def next_stage() -> float | None:
        with session_scope() as session:
            event = session.exec(
                select(TimelineEvent).where(
                    TimelineEvent.incident_id == incident_id,
                    TimelineEvent.kind == "stage_started",
                    TimelineEvent.stage == "logistics",
                )
            ).first()
            return event.at.timestamp() if event else None

    latency = float(_until(next_stage)) - start
    run.join(timeout=120)
    return latency


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="irp-bench-tasks-"))
    os.environ["IRP_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ["IRP_GATE_CODES"] = "false"  # the answer path by role; codes: tests/identity
    from prefect.testing.utilities import prefect_test_harness

    plan_file = str(_plan(home))
    with prefect_test_harness(server_startup_timeout=120):
        _one_round(plan_file)  # warm: the first run pays for imports and the server's caches
        latencies = [_one_round(plan_file) for _ in range(ROUNDS)]
    print(f"tasks resume: {[round(v, 3) for v in latencies]}", file=sys.stderr)
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(json.dumps({"tasks_resume_p95_s": round(p95, 3)}))


if __name__ == "__main__":
    main()
