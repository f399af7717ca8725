"""The contact directory (PLAN 5): regulators, card brands and vendors as notice audiences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from irp.cli.main import main
from irp.db import session_scope
from irp.notify import service
from models import Notification
from tests.factories import write_plan
from tests.notify.helpers import Sleeps, open_breach, routed_plan
from tests.notify.receiver import Receiver


def _directory(data: dict[str, Any], receiver: Receiver) -> dict[str, Any]:
    """Card brands on the receiver, a cloud vendor whose port comes from the environment."""
    data["resources"]["contact_lists"]["contacts"] = {
        "card_brands": {
            "title": "Card brands (Visa, Mastercard)",
            "kind": "card_brand",
            "notify": [receiver.url("json", "/brands")],
        },
        "cloud_vendor": {
            "title": "Cloud provider security desk",
            "kind": "cloud_vendor",
            "notify": ["json://127.0.0.1:${VENDOR_PORT}/vendor"],
        },
    }
    data["notifications"]["routes"]["contained"] = ["leadership", "card_brands", "cloud_vendor"]
    return data


def _audiences(ids: list[int]) -> dict[str, str]:
    with session_scope() as session:
        rows = [session.get(Notification, i) for i in ids]
    return {r.audience: r.status for r in rows if r is not None}


def test_a_notice_naming_contacts_reaches_their_channels_in_their_words(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENDOR_PORT", str(receiver.port))
    _, data = routed_plan(tmp_path, receiver)
    incident_id = open_breach(
        write_plan(tmp_path, _directory(data, receiver)), cardholder_data=True
    )

    ids = service.notify(incident_id, "contained", sleep=Sleeps())

    by_path = {r.path: r.json for r in receiver.requests}
    assert set(by_path) == {"/leadership", "/cio", "/brands", "/vendor"}
    brands = by_path["/brands"]["message"]
    assert "regulator notification draft" in brands
    assert "Card brands and acquirer" in brands  # the PCI clock started at detection
    assert "technical detail" in by_path["/vendor"]["message"]
    assert _audiences(ids) == {"leadership": "sent", "card_brands": "sent", "cloud_vendor": "sent"}


def test_a_drill_never_reaches_the_directory(tmp_path: Path, receiver: Receiver) -> None:
    _, data = routed_plan(tmp_path, receiver)
    plan_file = write_plan(tmp_path, _directory(data, receiver))
    incident_id = open_breach(plan_file, drill=True, cardholder_data=True)

    ids = service.notify(incident_id, "contained", sleep=Sleeps())

    assert receiver.requests == []  # the plan names no drill targets
    assert set(_audiences(ids)) == {"leadership", "card_brands", "cloud_vendor"}
    assert set(_audiences(ids).values()) == {"suppressed"}


def test_plan_validate_names_an_unknown_or_clashing_contact(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = routed_plan(tmp_path, None)
    data = _directory(data, receiver)
    data["notifications"]["routes"]["contained"] = ["leadership", "card_brnads"]
    data["notifications"]["clocks"]["pci"]["remind"] = ["legal", "acquirer"]  # not listed here
    contacts = data["resources"]["contact_lists"]["contacts"]
    contacts["legal"] = {"title": "Outside counsel", "kind": "other"}
    data["resources"]["spare_servers"]["contacts"] = {"x": {"title": "X", "kind": "other"}}
    path = write_plan(tmp_path, data)

    assert main(["plan", "validate", str(path)]) == 2
    errors = sorted(line.split(": ", 2)[1:] for line in capsys.readouterr().err.splitlines())
    assert errors == [
        ["notifications.clocks.pci.remind.1", "unknown group, role or contact 'acquirer'"],
        ["notifications.routes.contained.1", "unknown group, role or contact 'card_brnads'"],
        ["resources.contact_lists.contacts.legal", "'legal' is already an audience id"],
        [
            "resources.spare_servers",
            "contacts: only a resource of kind contacts holds a directory",
        ],
    ]
