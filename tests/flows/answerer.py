"""Answers gates from another thread the way a person does: `irp approve` once the run waits."""

from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass, field

from irp.cli.main import main
from irp.db import session_scope
from irp.duties import report_parts
from irp.errors import NotFound
from irp.gates import service as gates
from irp.incidents import service as incidents
from irp.plan.loader import plan_for
from models import Incident


@dataclass
class Answer:
    gate: str
    decision: str
    by: str
    comment: str = ""
    priority: str | None = None


@dataclass
class Part:
    """A group's part of the post-incident report, sent with `irp report-part`."""

    group: str
    by: str
    did: str = "Undid our measures"
    cause: str = "An unpatched endpoint"
    lessons: str = "Patch sooner"


BREACH_GROUPS = {
    "technical": "it_manager",
    "customer_service": "cs_manager",
    "legal": "legal_manager",
}
"""The groups that act in a data breach, each with the role that answers for it."""


def closing(groups: dict[str, str], signoff: Answer) -> list[Answer | Part]:
    """What people answer after the response (PLAN 4.5, 4.6): each acting group signs off its
    cleanup, leadership signs last (`signoff`), each group writes its part, and whoever signed
    for leadership accepts the report."""
    return [
        *(Answer(f"signoff_{group}", "approve", role) for group, role in groups.items()),
        signoff,
        *(Part(group, role) for group, role in groups.items()),
        Answer("report_acceptance", "approve", signoff.by),
    ]


@dataclass
class Answerer:
    """Give each answer in turn when an incident waits at that gate (bounded by a deadline)."""

    answers: list[Answer | Part]
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
            if isinstance(pending[0], Part):
                if self._write_part(pending[0]):
                    pending.pop(0)
                continue
            waiting = _waiting()
            if waiting is not None and (waiting[1].gate, waiting[1].round) not in answered:
                incident_id, gate = waiting
                if gate.gate == pending[0].gate:
                    answer = pending[0]
                    assert isinstance(answer, Answer)
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
                    code = self._main(argv)
                    if code is None:
                        continue  # an error: asked again while the gate still waits
                    pending.pop(0)
                    self.exit_codes.append(code)
                    if code == 0:
                        answered.add((gate.gate, gate.round))
                    continue
            time.sleep(0.05)
        if pending:
            self.errors.append(f"never asked: {pending}")

    def _write_part(self, part: Part) -> bool:
        """Send the part once its incident waits for it (False: not yet)."""
        waiting = _waiting_parts()
        if waiting is None or part.group not in waiting[1].groups:
            time.sleep(0.05)
            return False
        incident_id = waiting[0]
        argv = ["report-part", incident_id, "--group", part.group, "--by", part.by]
        argv += ["--did", part.did, "--cause", part.cause, "--lessons", part.lessons]
        code = self._main(argv)
        if code is None:
            return False
        self.exit_codes.append(code)
        return True

    def _main(self, argv: list[str]) -> int | None:
        """The CLI's exit code; None (recorded in `errors`) when it raised instead: a thread
        that died would leave the flow waiting for ever."""
        try:
            return main(argv)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"{argv[0]}: {type(exc).__name__}: {exc}")
            time.sleep(0.2)
            return None

    def _answer_a_task(self) -> bool:
        from irp.plan.loader import get_plan
        from irp.response import custody, manual

        with session_scope() as session:
            task = next(iter(manual.list_tasks(session, open_only=True)), None)
            if task is None:
                return False
            evidence = f"ticket-{task.id}"
            if task.data.get(custody.CUSTODY):  # where the evidence is kept, and its hash
                evidence = f"evidence locker {task.id}, sha256:{'0' * 64}"
            argv = ["tasks", "done", str(task.id), "--by", manual.owners(get_plan(), task)[0]]
            argv += ["--note", f"{task.key} done", "--evidence", evidence]
        code = self._main(argv)
        if code is not None:
            self.task_exit_codes.append(code)
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


def _waiting_parts() -> tuple[str, report_parts.Waiting] | None:
    from sqlmodel import select

    with session_scope() as session:
        for incident in session.exec(select(Incident)):
            try:
                return incident.id, report_parts.waiting(session, plan_for(incident), incident)
            except NotFound:
                continue
    return None
