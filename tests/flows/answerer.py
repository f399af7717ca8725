"""Answers gates from another thread the way a person does: `irp approve` once the run waits."""

from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass, field

from irp.cli.main import main
from irp.db import session_scope
from irp.errors import NotFound
from irp.gates import service as gates
from irp.incidents import service as incidents
from models import Incident


@dataclass
class Answer:
    gate: str
    decision: str
    by: str
    comment: str = ""
    priority: str | None = None


@dataclass
class Answerer:
    """Give each answer in turn when an incident waits at that gate (bounded by a deadline)."""

    answers: list[Answer]
    deadline_s: float = 60.0
    tasks: bool = True
    """Also answer every open manual task done, by its first owner, with `irp tasks done`."""
    exit_codes: list[int] = field(default_factory=list)
    task_exit_codes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Answerer:
        # The thread sees the test's Prefect settings (they live in a context variable).
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._thread is not None
        self._thread.join(timeout=self.deadline_s)

    def _run(self) -> None:
        deadline = time.monotonic() + self.deadline_s
        answered: set[tuple[str, int]] = set()
        pending = list(self.answers)
        while pending and time.monotonic() < deadline:
            if self.tasks and self._answer_a_task():
                continue
            waiting = _waiting()
            if waiting is not None and (waiting[1].gate, waiting[1].round) not in answered:
                incident_id, gate = waiting
                if gate.gate == pending[0].gate:
                    answer = pending.pop(0)
                    argv = [
                        "approve",
                        incident_id,
                        "--decision",
                        answer.decision,
                        "--by",
                        answer.by,
                    ]
                    if answer.comment:
                        argv += ["--comment", answer.comment]
                    if answer.priority:
                        argv += ["--priority", answer.priority]
                    code = main(argv)
                    self.exit_codes.append(code)
                    if code == 0:
                        answered.add((gate.gate, gate.round))
                    continue
            time.sleep(0.05)
        if pending:
            self.errors.append(f"never asked: {[a.gate for a in pending]}")

    def _answer_a_task(self) -> bool:
        from irp.plan.loader import get_plan
        from irp.response import manual

        with session_scope() as session:
            task = next(iter(manual.list_tasks(session, open_only=True)), None)
            if task is None:
                return False
            argv = ["tasks", "done", str(task.id), "--by", manual.owners(get_plan(), task)[0]]
            argv += ["--note", f"{task.key} done", "--evidence", f"ticket-{task.id}"]
        self.task_exit_codes.append(main(argv))
        return True


def _waiting() -> tuple[str, gates.WaitingGate] | None:
    from sqlmodel import select

    with session_scope() as session:
        for incident in session.exec(select(Incident)):
            try:
                return incident.id, gates.waiting_gate(
                    session, incidents.get_incident(session, incident.id)
                )
            except NotFound:
                continue
    return None
