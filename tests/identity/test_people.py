"""The plan names the people who may decide gates or own manual tasks, each with a channel:
`irp plan validate` flags a decider or owner nobody could send a code to, and an unknown
person."""

from __future__ import annotations

from pathlib import Path

import pytest

from irp.cli.main import main
from irp.identity.people import deciders
from irp.plan.loader import get_plan
from tests.factories import plan_data, write_plan

pytestmark = pytest.mark.no_database


def test_the_default_plan_names_a_channel_for_every_decider() -> None:
    plan = get_plan(None)
    found = deciders(plan, ["cio", "ciso", "legal_manager"])
    assert [(d.person, d.role) for d in found] == [
        ("cio_on_duty", "cio"),
        ("ciso_on_duty", "ciso"),
        ("legal_manager", "legal_manager"),
    ]
    assert all(d.channels for d in found)
    assert main(["plan", "validate"]) == 0


def test_validate_flags_a_decider_without_a_channel_and_an_unknown_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = plan_data()
    org = data["organisation"]
    org["people"]["ciso_on_duty"]["channels"] = []
    org["roles"]["legal_counsel"]["people"] = ["nobody"]
    org["roles"]["cio"]["people"] = []  # the role's person, reached at its notify URLs: none
    org["roles"]["head_marketing"]["people"] = []  # owns the public statement task
    path = write_plan(tmp_path, data)
    assert main(["plan", "validate", str(path)]) == 2
    errors = capsys.readouterr().err
    assert (
        "organisation.people.ciso_on_duty.channels: 'CISO on duty' decides gates (ciso)" in errors
    )
    assert "organisation.roles.cio.notify: 'CIO on duty' decides gates (cio)" in errors
    assert "organisation.roles.legal_counsel.people.0: unknown person 'nobody'" in errors
    assert (
        "organisation.roles.head_marketing.notify: 'Head of marketing' owns manual tasks "
        "(head_marketing)" in errors
    )
    assert "head_legal" not in errors  # decides and owns nothing: needs no channel


def test_a_role_may_be_held_by_several_people_each_with_channels(tmp_path: Path) -> None:
    data = plan_data()
    org = data["organisation"]
    org["people"]["deputy_cio"] = {"name": "Deputy CIO", "channels": ["json://127.0.0.1:9/x"]}
    org["roles"]["cio"]["people"] = ["cio_on_duty", "deputy_cio"]
    path = write_plan(tmp_path, data)
    assert main(["plan", "validate", str(path)]) == 0
    from irp.plan.loader import load_plan

    found = deciders(load_plan(path), ["cio", "ciso"])
    assert [d.person for d in found] == ["cio_on_duty", "deputy_cio", "ciso_on_duty"]
