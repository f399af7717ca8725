"""Every choice on a form is a select, even when there is only one thing to choose: pydantic
writes a single choice as `const`, which the UI shows as free text and a person cannot fill."""

from __future__ import annotations

import pytest

from flows.report_parts import part_form
from irp.plan.loader import get_plan

pytestmark = pytest.mark.no_database


def test_a_report_part_form_for_one_group_offers_it_and_its_writers_as_choices() -> None:
    schema = part_form(get_plan(), ["technical"], "one group to write").model_json_schema()
    group, author = schema["properties"]["group"], schema["properties"]["author"]
    assert group["enum"] == ["technical"] and "const" not in group
    assert author["enum"][0] == "it_manager" and "const" not in author
