"""The serve process's deadline watch sends clock reminders while every run waits for people."""

from __future__ import annotations

from pathlib import Path

from deployments.deadlines import check_deadlines
from tests.notify.helpers import routed_plan
from tests.notify.receiver import Receiver
from tests.notify.test_clocks import _start


def test_a_clock_that_ran_out_while_nobody_ran_is_reminded_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    plan_file, _ = routed_plan(tmp_path, receiver)
    incident_id = _start(plan_file)  # detected days ago: the PIPL hour is long over

    check_deadlines()
    check_deadlines()  # a second pass finds nothing new to send

    legal = [r.json for r in receiver.requests if r.path == "/legal"]
    assert len(legal) == 1
    assert "Regulatory deadline reminder" in legal[0]["title"]
    assert "clock pipl EXPIRED" in legal[0]["message"]
    assert incident_id in legal[0]["message"]
