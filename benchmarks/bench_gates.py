"""Gates on the real stack: decision-to-next-stage latency, and memory with many runs waiting.

`gate_resume_p95_s`: `irp approve`'s path (answer_gate -> resume_flow_run) on runs waiting
in-process (the first `IRP_GATE_SUSPEND_AFTER_S` of a wait) to the response stage starting,
from the timeline. `gate_resume_suspended_p95_s`: the same for suspended runs (a new process).
Beside it, `bare_suspended_resume_*`: Prefect's own cost for the same, a no-op flow served
by its own `serve()` on the same server that suspends and, resumed, writes down when it went on.
Each latency prints its spread (p50, p95, min, max). A suspended resume is split where Prefect
marks the resumed run Running: `..._to_running` is mostly Prefect's part (the runner sees the
resumed run, starts a process, which imports the flow's modules; irp's own answer path is
`gate_resume_suspended_answer_*`) and `..._running_to_stage` /
`..._running_to_done` is the flow's, from the top to where it went on.
`waiting_500_rss_mib`: summed RSS of the stack's process tree once BENCH_WAITING runs (default
500; set fewer for a quick look) are suspended at the gate and their processes have exited;
`waiting_measured` says how many.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import psutil

from benchmarks.stack_support import spread

WAITING = int(os.environ.get("BENCH_WAITING", "500"))
HOT = int(os.environ.get("BENCH_HOT", "5"))
SUSPENDED = int(os.environ.get("BENCH_SUSPENDED", "5"))
BARE_SUSPEND = "bare-suspend/bench"


def bare_suspending_flow() -> None:
    """The baseline: suspend; resumed, the flow runs again from the top, the suspension
    returns at once, and the flow notes when it went on."""
    from prefect.flow_runs import suspend_flow_run
    from prefect.runtime import flow_run

    suspend_flow_run(timeout=86400)
    (Path(os.environ["BENCH_RESUMED_DIR"]) / str(flow_run.id)).write_text(str(time.time()))


def serve_bare_suspending() -> None:
    """Child process: serve the baseline (module level: each run's process loads it)."""
    from typing import cast

    from prefect import flow, serve
    from prefect.deployments.runner import RunnerDeployment

    deployment = flow(name="bare-suspend")(bare_suspending_flow).to_deployment(name="bench")
    serve(cast(RunnerDeployment, deployment), print_starting_message=False)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pids: list[int]) -> float:
    seen: set[int] = set()
    total = 0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                if proc.pid not in seen:
                    seen.add(proc.pid)
                    total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def _flow_run_processes(pids: list[int]) -> list[int]:
    """Flow-run processes (`python -m prefect.engine`) still alive under the stack."""
    found = []
    for pid in pids:
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in children:
            try:
                if any("prefect.engine" in part for part in child.cmdline()):
                    found.append(child.pid)
            except psutil.NoSuchProcess:
                continue
    return found


def _until(check: Any, deadline_s: float, every_s: float = 0.2) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise RuntimeError("benchmark timed out")


def _waiting(state_name: str, run_ids: list[str], api: Any) -> bool:
    """Every run in `state_name` (read 200 at a time: the API's page limit)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    for start in range(0, len(run_ids), 200):
        chunk = [UUID(i) for i in run_ids[start : start + 200]]
        runs = api.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=200
        )
        if len(runs) < len(chunk) or any(
            r.state is None or r.state.name != state_name for r in runs
        ):
            return False
    return True


def _running_after(api: Any, run_id: str, after: float) -> float | None:
    """When the run last entered Running, if that was after `after` (epoch seconds)."""
    states = api.read_flow_run_states(UUID(run_id))
    times = [s.timestamp.timestamp() for s in states if s.type.value == "RUNNING"]
    return max(times) if times and max(times) > after else None


def _incident_of(run_id: str) -> str | None:
    from sqlmodel import select

    from irp.db import session_scope
    from models import Incident

    with session_scope() as session:
        found = session.exec(select(Incident).where(Incident.flow_run_id == run_id)).first()
        return found.id if found else None


def _resume_latency(incident_id: str) -> float:
    """answer_gate as `irp approve` does, then until the response stage starts."""
    return _resume_marks(incident_id)[2]


def _resume_marks(incident_id: str) -> tuple[float, float, float]:
    """answer_gate as `irp approve` does: when it was called, how long it took (checking and
    recording the answer, resuming the run) and how long until the response stage started."""
    from sqlmodel import select

    from deployments.runs import answer_gate
    from irp.db import session_scope
    from models import TimelineEvent

    start = time.time()
    answer_gate(incident_id, decision="approve", approver="cio", comment="bench", priority=None)
    answered = time.time() - start

    def started() -> float | None:
        with session_scope() as session:
            event = session.exec(
                select(TimelineEvent).where(
                    TimelineEvent.incident_id == incident_id,
                    TimelineEvent.kind == "stage_started",
                    TimelineEvent.stage == "response",
                )
            ).first()
            return event.at.timestamp() if event else None

    return start, answered, float(_until(started, 300)) - start


def _suspended_resume(run_ids: list[str], api: Any) -> dict[str, float]:
    """Resume suspended incidents by their gate; the whole and its parts."""
    whole, answering, to_running, after_running = [], [], [], []
    for run_id in run_ids:
        incident_id = _until(lambda r=run_id: _incident_of(r), 60)
        start, answered, latency = _resume_marks(incident_id)
        running = _until(lambda r=run_id, s=start: _running_after(api, r, s), 60)
        whole.append(latency)
        answering.append(answered)
        to_running.append(running - start)
        after_running.append(start + latency - running)
    return (
        spread(whole, "gate_resume_suspended")
        | spread(answering, "gate_resume_suspended_answer")
        | spread(to_running, "gate_resume_suspended_to_running")
        | spread(after_running, "gate_resume_suspended_running_to_stage")
    )


def _bare_suspended_resume(home: Path, api: Any) -> dict[str, float]:
    """Prefect alone: SUSPENDED runs of the no-op flow, each resumed and timed until it went on."""
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    marks = home / "bare-resumed"
    marks.mkdir()
    env = {**os.environ, "BENCH_RESUMED_DIR": str(marks)}
    code = "from benchmarks.bench_gates import serve_bare_suspending; serve_bare_suspending()"
    with (home / "bare-suspend.log").open("wb") as log:
        runner = subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _until(lambda: _deployment_ready(api, BARE_SUSPEND), 120)
        runs = [str(run_deployment(BARE_SUSPEND, timeout=0).id) for _ in range(SUSPENDED)]  # type: ignore[union-attr]
        _until(lambda: _waiting("Suspended", runs, api), 300)
        whole, to_running, after_running = [], [], []
        for run_id in runs:
            start = time.time()
            resume_flow_run(UUID(run_id))
            mark = marks / run_id
            _until(mark.exists, 300, every_s=0.05)
            done = float(mark.read_text())
            running = _until(lambda r=run_id, s=start: _running_after(api, r, s), 60)
            whole.append(done - start)
            to_running.append(running - start)
            after_running.append(done - running)
        return (
            spread(whole, "bare_suspended_resume")
            | spread(to_running, "bare_suspended_resume_to_running")
            | spread(after_running, "bare_suspended_resume_running_to_done")
        )
    finally:
        runner.terminate()
        runner.wait(30)


def _deployment_ready(api: Any, name: str) -> bool:
    try:
        api.read_deployment_by_name(name)
    except Exception:  # noqa: BLE001 - not registered yet
        return False
    return True


def _start(count: int) -> list[str]:
    from prefect.deployments import run_deployment

    ids = []
    for n in range(count):
        run = run_deployment(
            "data-breach/irp",
            parameters={"intake": {"summary": f"bench {n}", "reporter": "bench"}},
            timeout=0,
        )
        ids.append(str(run.id))  # type: ignore[union-attr]
    return ids


def _patient_plan(home: Path) -> Path:
    """The shipped plan with day-long gate timeouts: starting 500 runs takes longer than the
    plan's 15 minutes, and a timed-out gate would escalate and move on instead of waiting."""
    import yaml

    from irp.plan.loader import DEFAULT_PLAN_FILE

    data = yaml.safe_load(DEFAULT_PLAN_FILE.read_text(encoding="utf-8"))
    for gate in data["gates"].values():
        gate["timeout_s"] = 86400
    path = home / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="irp-bench-gates-"))
    os.environ["IRP_HOME"] = str(home)
    os.environ["IRP_GATE_SUSPEND_AFTER_S"] = "120"
    os.environ["IRP_GATE_CODES"] = "false"  # the resume path by role; codes: tests/identity
    os.environ["IRP_PLAN_FILE"] = str(_patient_plan(home))
    from irp.cli.up import full_stack
    from irp.settings import get_settings
    from irp.stack import StackConfig

    get_settings.cache_clear()
    config = StackConfig(home=home, prefect_port=_port())
    figures: dict[str, float] = {}
    with full_stack(config, webhook=False, echo=lambda _: None) as (stack, urls):
        os.environ.update(
            {k: v for k, v in stack.env.items() if k.startswith(("PREFECT_", "IRP_"))}
        )
        get_settings.cache_clear()
        from prefect.client.orchestration import get_client

        pids = [p.pid for p in stack.processes]
        with get_client(sync_client=True) as api:
            hot = _start(HOT)
            _until(lambda: _waiting("Paused", hot, api), 300)
            incidents = [_until(lambda r=r: _incident_of(r), 60) for r in hot]
            figures |= spread([_resume_latency(i) for i in incidents], "gate_resume")
            # Runs that outlast the in-process wait suspend: these hold no process.
            stack.env["IRP_GATE_SUSPEND_AFTER_S"] = "0"
            os.environ["IRP_GATE_SUSPEND_AFTER_S"] = "0"
            stack.remove_process("serve")
            stack.add_process("serve-2", [sys.executable, "-m", "deployments.serve"])
            pids = [p.pid for p in stack.processes]
            waiting = _start(WAITING)
            # Polled slowly: reading hundreds of runs often would load the server being measured.
            _until(lambda: _waiting("Suspended", waiting, api), 300 + 10 * WAITING, every_s=5)
            # A suspended run's process exits shortly after Suspended: measure once they have.
            _until(lambda: not _flow_run_processes(pids), 600, every_s=1)
            figures["waiting_500_rss_mib"] = round(_rss_mib(pids), 1)
            figures["waiting_measured"] = WAITING
            figures |= _suspended_resume(waiting[:SUSPENDED], api)
            figures |= _bare_suspended_resume(home, api)
    figures = {k: round(v, 3) for k, v in figures.items()}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
