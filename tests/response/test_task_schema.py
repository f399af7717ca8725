"""The plan's manual tasks are checked at load: owner, `after` keys and cycles name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from irp.errors import PlanError
from irp.plan.loader import load_plan
from models.enums import IncidentType
from tests.factories import plan_data, write_plan

pytestmark = pytest.mark.no_database


def errors_of(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanError) as caught:
        load_plan(write_plan(tmp_path, data))
    return caught.value.messages


def breach(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["key"]: a for a in data["incident_types"]["data_breach"]["playbook"]}


def test_shipped_plan_gives_human_measures_to_their_groups() -> None:
    plan = load_plan()
    owners = {
        (itype.value, a.key): (a.group, a.owner)
        for itype, spec in plan.incident_types.items()
        for a in spec.playbook
        if a.manual
    }
    assert owners[("data_breach", "legal_assessment")] == ("legal", None)
    assert owners[("data_breach", "public_statement")] == ("leadership", "head_marketing")
    assert owners[("data_breach", "notify_affected_users")] == ("customer_service", None)
    assert owners[("network_attack", "restore_damaged_data")] == ("technical", None)
    insider = plan.incident_type(IncidentType.insider_threat)
    improper = {a.key for a in insider.actions_for("improper_operation")}
    assert "suspend_account_access" not in improper and "stop_the_operation" in improper
    assert "suspend_account_access" in {a.key for a in insider.actions_for("malicious")}


def test_unknown_owner_after_key_and_cycle_name_their_fields(tmp_path: Path) -> None:
    data = plan_data()
    actions = breach(data)
    actions["public_statement"]["owner"] = "legal_counsel"  # not in leadership
    actions["progress_updates"]["after"] = ["notify_users"]  # no such key
    actions["assess_leak_scope"]["after"] = ["check_data_integrity"]  # loops back
    messages = errors_of(tmp_path, data)
    base = "incident_types.data_breach.playbook"
    keys = [a["key"] for a in data["incident_types"]["data_breach"]["playbook"]]
    index = {k: i for i, k in enumerate(keys)}
    text = "\n".join(messages)
    assert f"{base}.{index['public_statement']}.owner: unknown owner 'legal_counsel'" in text
    assert f"{base}.{index['progress_updates']}.after.0: unknown action key 'notify_users'" in text
    assert f"{base}.{index['assess_leak_scope']}.after: 'assess_leak_scope' can never start" in text
    assert (
        f"{base}.{index['check_data_integrity']}.after: 'check_data_integrity' can never start"
        in text
    )
    assert "notify_affected_users" in text  # waits on the loop: it can never start either


def test_manual_needs_instructions_and_a_note_automatic_has_no_owner(tmp_path: Path) -> None:
    data = plan_data()
    actions = breach(data)
    del actions["legal_assessment"]["instructions"]
    actions["register_user_claims"]["needs"] = ["evidence"]
    actions["preserve_evidence"]["executor"] = "simulate"
    del actions["preserve_evidence"]["instructions"]
    actions["preserve_evidence"]["owner"] = "sysadmin"
    text = "\n".join(errors_of(tmp_path, data))
    assert "instructions: a manual task says what the owner does" in text
    assert "needs: an answer always carries a note" in text
    assert "owner: only a manual task has one" in text
