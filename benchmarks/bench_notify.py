"""Notifications off the critical path, on the default stack (`irp up`: PostgreSQL, served
deployments, the webhook and their delivery workers), with the plan routed to a local receiver.

`alert_to_page_*`: an Alertmanager alert POST opening a new incident -> the commander's first
message seen at the receiver (polled every 10 ms), each alert on a settled stack: the previous
incident's run has started and waits at its first gate, as when incidents open minutes apart.
`alert_to_page_burst_*`: the same back to back, each page competing with the flow-run processes
the alerts before it are starting (on 2 cores). `alert_to_page_prefect_down_*` the same while
the Prefect server's processes are stopped (SIGSTOP: alive, answering nothing). Target p95 <= 1.5 s.

`dead_target_drill_ratio`: `irp drill insider-threat --auto-approve --notify URL` from a shell,
wall time until the command exits, with a URL that refuses connections over the same drill with
the receiver; medians of interleaved rounds (target <= 1.1).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from benchmarks.stack_support import LiveStack, open_by_alert, running_stack, spread, until

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "10"))
DRILL_ROUNDS = int(os.environ.get("BENCH_DRILL_ROUNDS", "3"))


def main() -> None:
    from tests.notify.helpers import routed_plan
    from tests.notify.receiver import Receiver, closed_port

    figures: dict[str, float] = {}
    with Receiver() as receiver:
        plan_file, _ = routed_plan(Path(tempfile.mkdtemp(prefix="irp-bench-notify-")), receiver)
        env = {"IRP_PLAN_FILE": str(plan_file), "IRP_GATE_SUSPEND_AFTER_S": "2"}
        with running_stack(env) as stack:
            pages = [
                _alert_to_page(stack, receiver, f"up-{i}", settle=True) for i in range(SAMPLES + 1)
            ]
            figures |= spread(pages[1:], "alert_to_page")
            burst = [_alert_to_page(stack, receiver, f"burst-{i}") for i in range(SAMPLES)]
            figures |= spread(burst, "alert_to_page_burst")
            with _prefect_stopped(stack):
                down = [_alert_to_page(stack, receiver, f"down-{i}") for i in range(SAMPLES)]
            figures |= spread(down, "alert_to_page_prefect_down")
            working = receiver.url("json", "/drill")
            dead = f"json://127.0.0.1:{closed_port()}/x"
            _drill(stack, working)  # warm
            ok, refused = [], []
            for _ in range(DRILL_ROUNDS):
                ok.append(_drill(stack, working))
                refused.append(_drill(stack, dead))
            print(f"working {ok}, refusing {refused}", file=sys.stderr)
    figures |= spread(ok, "drill_working_target")
    figures |= spread(refused, "drill_refusing_target")
    figures["dead_target_drill_ratio"] = round(
        statistics.median(refused) / statistics.median(ok), 3
    )
    print(json.dumps(figures))


def _alert_to_page(stack: LiveStack, receiver: object, tag: str, *, settle: bool = False) -> float:
    from tests.notify.receiver import Receiver

    assert isinstance(receiver, Receiver)
    sent = time.monotonic()
    incident_id = open_by_alert(stack, f"page-{tag}", f"page-{tag}-{time.time_ns()}")

    def paged() -> bool:
        return any(incident_id in str((r.json or {}).get("title")) for r in receiver.requests)

    _poll(paged, 60, f"the first page of {incident_id}")
    elapsed = time.monotonic() - sent
    print(f"{tag}: {elapsed:.3f} s", file=sys.stderr)
    if settle:
        engine = _engine(stack.info["irp_database_url"])
        until(lambda: _at_first_gate(engine, incident_id), 120, f"{incident_id} at its gate")
    return elapsed


@functools.cache
def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url)


def _at_first_gate(engine: sa.Engine, incident_id: str) -> bool:
    """Whether the incident's run has started and asks its first gate (its process is past
    Python's and Prefect's start-up, the costly part on a small machine)."""
    query = sa.text(
        "SELECT 1 FROM timeline_event WHERE incident_id = :id AND kind = 'gate_waiting'"
    )
    with engine.connect() as conn:
        return conn.execute(query, {"id": incident_id}).first() is not None


def _poll(check: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {what}")


def _drill(stack: LiveStack, url: str) -> float:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "irp.cli", "drill", "insider-threat", "--auto-approve"]
        + ["--notify", url],
        env=stack.client_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"drill failed: {done.stderr[-2000:]}")
    return round(elapsed, 3)


@contextmanager
def _prefect_stopped(stack: LiveStack) -> Iterator[None]:
    """SIGSTOP the Prefect server and its children (started by this stack), SIGCONT after."""
    pids = _prefect_server_tree(int(stack.info["pid"]))
    if not pids:
        raise RuntimeError("no Prefect server process found under the stack")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def _prefect_server_tree(root: int) -> list[int]:
    """The `prefect server start` process under `root` and all its descendants."""
    children: dict[int, list[int]] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            commands[int(entry.name)] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            )
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))

    def tree(pid: int) -> list[int]:
        return [pid] + [d for c in children.get(pid, []) for d in tree(c)]

    below = tree(root)
    servers = [p for p in below if "prefect server start" in commands.get(p, "")]
    return [d for s in servers for d in tree(s)]


if __name__ == "__main__":
    main()
