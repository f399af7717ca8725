"""`irp plan validate` reports every error of a plan in one run, each as file:line: field: reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from irp.cli.main import main
from irp.errors import PlanError
from irp.plan.loader import load_plan
from tests.factories import plan_data, write_plan

pytestmark = pytest.mark.no_database


def errors_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanError) as caught:
        load_plan(write_plan(tmp_path, data))
    return caught.value.messages


def line_of(path: Path, text: str, after: str = "") -> int:
    """1-based line of the first `text` after the first `after` in the file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines) if i >= start and text in line) + 1


def test_type_errors_validator_errors_and_references_come_in_one_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = plan_data()
    data["gates"]["activation"]["timeout_s"] = "soon"  # a type error
    data["organisation"]["roles"]["cs_agent"]["group"] = "customer_srvice"  # a reference
    scenarios = data["drills"]["scenarios"]
    scenarios["system-failure-quarterly"]["cron"] = "0 3 1 2,5,8,11"  # a field validator
    scenarios["system-failure-quarterly"]["shortfall"] = {"spare_servers": 0, "spare_disks": 2}
    scenarios["network-attack-quarterly"]["faults"] = {"enable_ddos_scrub": 2}  # drill reference
    path = write_plan(tmp_path, data)

    assert main(["plan", "validate", str(path)]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    lines = printed.err.splitlines()
    base = "drills.scenarios.system-failure-quarterly"
    expected = [
        (
            line_of(path, "group: customer_srvice"),
            "organisation.roles.cs_agent.group: unknown group 'customer_srvice'",
        ),
        (
            line_of(path, "timeout_s: soon"),
            "gates.activation.timeout_s: Input should be a valid number",
        ),
        (
            line_of(path, "enable_ddos_scrub", after="scenarios:"),
            "drills.scenarios.network-attack-quarterly.faults.enable_ddos_scrub: no action",
        ),
        (line_of(path, "cron: 0 3 1 2,5,8,11"), f"{base}.cron: cron '0 3 1 2,5,8,11' must have 5"),
        (
            line_of(path, "spare_servers: 0"),
            f"{base}.shortfall.spare_servers: Input should be greater than or equal to 1",
        ),
        (
            line_of(path, "spare_disks: 2"),
            f"{base}.shortfall.spare_disks: 'spare_disks' is not a resource this type needs",
        ),
    ]
    assert len(lines) == len(expected), printed.err
    for line, (number, start) in zip(lines, expected, strict=True):
        assert line.startswith(f"{path}:{number}: {start}"), line


def test_a_refused_entry_is_not_reported_again_where_it_is_named(tmp_path: Path) -> None:
    """A role with a bad field is one error, not one more per gate and group naming it."""
    data = plan_data()
    del data["organisation"]["roles"]["cio"]["title"]
    deciders = data["gates"]["signoff"]["deciders"]
    deciders.append("nobody")
    first, second = (e.split(": ", 1)[1] for e in errors_of(tmp_path, data))
    assert first == "organisation.roles.cio.title: Field required"
    index = len(deciders) - 1
    assert second.startswith(f"gates.signoff.deciders.{index}: unknown role 'nobody'")


def test_a_plan_without_the_signoff_gate_is_told_so(tmp_path: Path) -> None:
    """The group sign-offs escalate to `signoff`'s deciders: its absence is an error, not a crash."""
    data = plan_data()
    del data["gates"]["signoff"]
    errors = errors_of(tmp_path, data)
    assert any(
        e.endswith("gates: missing gate 'signoff' (the stage skeleton asks it)") for e in errors
    )


def test_every_item_of_a_list_and_every_name_is_checked(tmp_path: Path) -> None:
    data = plan_data()
    pipl = data["notifications"]["clocks"]["pipl"]
    pipl["content"] = ["unit", "colour", "smell"]
    pipl["reminders_at"] = [0.5, 1.5]
    data["drills"]["scenarios"]["Bad Name"] = {"title": "x", "incident_type": "data_breach"}
    data["drills"]["targets"]["stages"] = {"command": 0, "response": -1}
    fields = sorted(e.split(": ")[1] for e in errors_of(tmp_path, data))
    assert fields == [
        "drills.scenarios.Bad Name",
        "drills.targets.stages.command",
        "drills.targets.stages.response",
        "notifications.clocks.pipl.content.1",
        "notifications.clocks.pipl.content.2",
        "notifications.clocks.pipl.reminders_at.1",
    ]


def test_one_rule_with_two_problems_says_both(tmp_path: Path) -> None:
    data = plan_data()
    data["classification"].append(
        {
            "name": "bad",
            "match": {"alertname": "~(unclosed", "service": "~[z-a]"},
            "incident_type": "data_breach",
            "subtype": "ddos",
        }
    )
    (error,) = errors_of(tmp_path, data)
    assert "subtype 'ddos' is not valid" in error
    assert "match.alertname: invalid regex" in error
    assert "match.service: invalid regex" in error


def test_a_drill_safe_action_needs_a_drill_safe_undo(tmp_path: Path) -> None:
    """A drill would take the measure and leave it in place: refused, naming the path."""
    data = plan_data()
    fail_over = data["incident_types"]["system_failure"]["playbook"][1]
    fail_over.update(executor="command", params={"argv": ["true"]}, drill_safe=True)
    fail_over["undo"] = {"executor": "http", "params": {"url": "http://127.0.0.1:9/back"}}
    path = write_plan(tmp_path, data)
    (error,) = errors_of(tmp_path, data)
    line = line_of(path, "executor: http", after="key: fail_over")  # the undo mapping
    assert error == (
        f"{path}:{line}: incident_types.system_failure.playbook.1.undo.drill_safe: "
        "the action is drill_safe: its undo must be too"
    )
    fail_over["undo"]["drill_safe"] = True
    assert load_plan(write_plan(tmp_path, data)).incident_types


def test_a_valid_plan_still_loads(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, plan_data()))
    assert plan.drills.scenarios["system-failure-quarterly"].shortfall == {"spare_servers": 5}
