"""Classification rules live in the plan: the shipped plan carries the defaults, and a bad
rule is reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from irp.errors import PlanError
from irp.plan.loader import load_plan
from models.plan_alerts import DEFAULT_RULES
from tests.factories import plan_data, write_plan


def test_shipped_plan_has_the_default_rules() -> None:
    assert load_plan().classification == DEFAULT_RULES


def test_plan_without_rules_gets_defaults(tmp_path: Path) -> None:
    data = plan_data()
    del data["classification"]
    assert load_plan(write_plan(tmp_path, data)).classification == DEFAULT_RULES


def test_bad_rule_names_file_line_and_field(tmp_path: Path) -> None:
    data = plan_data()
    data["classification"].append(
        {
            "name": "bad",
            "match": {"alertname": "x"},
            "incident_type": "data_breach",
            "subtype": "ddos",
        }
    )
    with pytest.raises(PlanError) as caught:
        load_plan(write_plan(tmp_path, data))
    assert "classification.6" in str(caught.value)
    assert "subtype 'ddos' is not valid" in str(caught.value)
