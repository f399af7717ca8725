"""What a previous `irp up` on the same IRP_HOME may have left running, and stopping it.

Each stack gets a random id, recorded in `$IRP_HOME/run/processes.json` before its first
child starts and put in every child's environment (`IRP_STACK_ID`); descendants inherit it.
A process is a leftover only if it carries the recorded id: a reused pid never does.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path

from irp.stack import proc
from irp.stack.errors import StackError

STACK_ID_VARIABLE = "IRP_STACK_ID"
RECORD_NAME = "processes.json"


@dataclass
class RunRecord:
    """The running stack: its id, the supervising `irp up` and the children's current pids."""

    path: Path
    stack_id: str
    pid: int
    started: int | None
    children: dict[str, int] = field(default_factory=dict)

    @classmethod
    def new(cls, run_dir: Path) -> RunRecord:
        pid = os.getpid()
        return cls(run_dir / RECORD_NAME, secrets.token_hex(8), pid, proc.start_ticks(pid))

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord | None:
        path = run_dir / RECORD_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                path,
                str(data["stack_id"]),
                int(data["pid"]),
                data.get("started"),
                {str(k): int(v) for k, v in data.get("children", {}).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def note(self, name: str, pid: int) -> None:
        self.children[name] = pid
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "stack_id": self.stack_id,
            "pid": self.pid,
            "started": self.started,
            "children": self.children,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def supervisor_alive(self) -> bool:
        return self.started is not None and proc.start_ticks(self.pid) == self.started


def stop_leftovers(run_dir: Path, timeout_s: float) -> list[str]:
    """Stop what the previous stack recorded in `run_dir` left running; describe what was
    stopped. Refuses (StackError) while that stack's `irp up` itself still runs."""
    record = RunRecord.load(run_dir)
    if record is None or record.pid == os.getpid():
        return []
    if record.supervisor_alive():
        raise StackError(
            f"irp up (pid {record.pid}) is already running on {run_dir.parent}; stop it "
            "first (Ctrl-C in its terminal, or kill it), or set another IRP_HOME"
        )
    pids = proc.with_environment(STACK_ID_VARIABLE, record.stack_id)
    names = {pid: name for name, pid in record.children.items()}
    killed = set(proc.end(pids, signal.SIGTERM, timeout_s))
    record.remove()
    return [
        f"{names.get(pid, 'a child process')} (pid {pid}{', killed' if pid in killed else ''})"
        for pid in pids
    ]
