"""A run's labels name its process; the host it ran on tells a dead process from a live one."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from irp.incidents import run_process
from irp.incidents.run_process import labels_for_this_process, process_gone

pytestmark = pytest.mark.no_database

BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
LABELLED = BEFORE + timedelta(seconds=5)
AFTER = LABELLED + timedelta(seconds=5)


def _labels_of_a_dead_process() -> dict[str, object]:
    """Labels as a process wrote them, for a process that has since exited."""
    code = "import json, irp.incidents.run_process as p; print(json.dumps(p.labels_for_this_process()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    labels: dict[str, object] = json.loads(out.stdout)
    return {**labels, run_process.LABELLED_AT: LABELLED.isoformat()}


def test_a_live_process_is_not_gone() -> None:
    labels = labels_for_this_process(LABELLED)
    assert not process_gone(labels, "RUNNING", "Running", BEFORE)
    assert not process_gone(labels, "PAUSED", "Paused", AFTER)


def test_a_dead_process_is_gone_while_running_or_paused_in_process() -> None:
    labels = _labels_of_a_dead_process()
    assert process_gone(labels, "RUNNING", "Running", BEFORE)
    assert process_gone(labels, "PAUSED", "Paused", AFTER)


def test_labels_older_than_the_running_state_are_not_trusted() -> None:
    """Resumed from a suspension, a new process runs it and has not labelled it yet."""
    assert not process_gone(_labels_of_a_dead_process(), "RUNNING", "Running", AFTER)


def test_a_suspended_or_finished_run_has_no_process_to_miss() -> None:
    labels = _labels_of_a_dead_process()
    for state_type, name in (("PAUSED", "Suspended"), ("COMPLETED", "Completed")):
        assert not process_gone(labels, state_type, name, AFTER)


def test_another_host_or_boot_or_no_labels_cannot_be_judged() -> None:
    labels = _labels_of_a_dead_process()
    assert not process_gone({**labels, run_process.HOST: "elsewhere"}, "RUNNING", "R", BEFORE)
    assert not process_gone({**labels, run_process.BOOT: "earlier"}, "RUNNING", "R", BEFORE)
    assert not process_gone({}, "RUNNING", "Running", BEFORE)


def test_a_reused_pid_is_not_the_labelled_process() -> None:
    labels = {**labels_for_this_process(LABELLED), run_process.PID_START: "1"}
    assert process_gone(labels, "RUNNING", "Running", BEFORE)
