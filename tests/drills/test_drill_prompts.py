"""`irp drill TYPE` without --auto-approve tells, as each gate starts waiting, which incident
waits and how to answer; the command it prints is the one that answers."""

from __future__ import annotations

import os
import queue
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from irp.cli.main import main
from irp.db import session_scope
from irp.plan.loader import get_plan
from models import Incident

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]

UI = "http://127.0.0.1:4999"


class Lines:
    """A process's stderr, line by line, read without blocking the test."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stderr is not None
        stream = process.stderr
        self._reader = threading.Thread(target=lambda: [self._queue.put(x) for x in stream])
        self._reader.start()

    def rest(self) -> list[str]:
        """Every line not matched yet, once the process has closed its stderr."""
        self._reader.join(30)
        while not self._queue.empty():
            self.seen.append(self._queue.get().rstrip("\n"))
        return self.seen

    def wait_for(self, pattern: str, deadline_s: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            for line in self.seen:
                found = re.search(pattern, line)
                if found:
                    self.seen.remove(line)
                    return found
            try:
                self.seen.append(self._queue.get(timeout=0.5).rstrip("\n"))
            except queue.Empty:
                continue
        raise AssertionError(f"no line matched {pattern!r}; seen: {self.seen}")


def answer(command: str) -> int:
    """Run the printed `IRP_HOME=... irp approve ...` line as its words say."""
    words = shlex.split(command.replace('"..."', '"seen it"'))
    assert words[0].startswith("IRP_HOME=") and words[1] == "irp"
    assert Path(words[0].split("=", 1)[1]) == Path(os.environ["IRP_HOME"]).resolve()
    return main(words[2:])


def test_a_drill_waiting_for_people_says_how_to_answer(irp_home: Path) -> None:
    env = {**os.environ, "IRP_PREFECT_UI_URL": UI, "PYTHONUNBUFFERED": "1"}
    drill = subprocess.Popen(
        [sys.executable, "-c", "from irp.cli.main import run; run()", "drill", "system-failure"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = Lines(drill)
        head = lines.wait_for(r"^(INC-[0-9A-F]+) waits at gate activation \(round 1\): (.+)$")
        incident_id = head.group(1)
        assert head.group(2) == get_plan().gates["activation"].question
        assert lines.wait_for(r"^  may decide: cio \(CIO on duty\), ciso \(CISO on duty\)$")
        command = lines.wait_for(r"^  answer: (IRP_HOME=\S+ irp approve .+ --comment \"...\")")
        link = lines.wait_for(rf"^  or in the Prefect UI: {UI}/runs/flow-run/(\S+)$").group(1)
        with session_scope() as session:
            incident = session.get(Incident, incident_id)
            assert incident is not None and incident.flow_run_id == link

        assert answer(command.group(1)) == 0
        for gate in ("signoff_technical", "signoff_customer_service", "signoff"):
            lines.wait_for(rf"^{incident_id} waits at gate {gate} \(round 1\)")
            assert (
                answer(lines.wait_for(r"^  answer: (.+)   \(or reject, escalate\)$").group(1)) == 0
            )
        for group, role in (("technical", "it_manager"), ("customer_service", "cs_manager")):
            part = ["--group", group, "--by", role, "--did", "d", "--cause", "c", "--lessons", "l"]
            assert _when_parts_wait(["report-part", incident_id, *part]) == 0
        lines.wait_for(rf"^{incident_id} waits at gate report_acceptance \(round 1\)")
        assert answer(lines.wait_for(r"^  answer: (.+)   \(or reject, escalate\)$").group(1)) == 0

        assert drill.wait(timeout=120) == 0
        assert drill.stdout is not None
        assert drill.stdout.readline() == f"incident: {incident_id}\n"
        assert not [line for line in lines.rest() if "waits at gate" in line]  # each said once
    finally:
        if drill.poll() is None:
            drill.kill()
            drill.wait()


def _when_parts_wait(argv: list[str], deadline_s: float = 60) -> int:
    """Send a report part once the run waits for parts (before that the CLI says it does not)."""
    end = time.monotonic() + deadline_s
    code = main(argv)
    while code == 1 and time.monotonic() < end:
        time.sleep(0.2)
        code = main(argv)
    return code
