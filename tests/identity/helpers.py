"""What a person's channel received: their codes and links, read off a local receiver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from irp.settings import get_settings
from tests.factories import plan_data, write_plan
from tests.notify.receiver import Receiver

CODE = re.compile(r"Code: (\d{8})")
LINK = re.compile(r"Or open: (\S+)")


def messages_for(receiver: Receiver, path: str) -> list[str]:
    """Message bodies Apprise's json:// delivered to `path` (one person's channel), in order."""
    return [
        str(r.json["message"]) for r in receiver.requests if r.path == path and r.json is not None
    ]


def last_code(receiver: Receiver, path: str) -> str:
    found = CODE.findall("\n".join(messages_for(receiver, path)))
    assert found, f"no code reached {path}"
    return str(found[-1])


def last_link(receiver: Receiver, path: str) -> str:
    found = LINK.findall("\n".join(messages_for(receiver, path)))
    assert found, f"no link reached {path}"
    return str(found[-1])


def secrets_sent(receiver: Receiver) -> list[str]:
    """Every code and link token any channel received."""
    text = "\n".join(str(r.json["message"]) for r in receiver.requests if r.json is not None)
    found = CODE.findall(text) + [link.rsplit("/", 1)[-1] for link in LINK.findall(text)]
    return sorted(set(found))


def code_asking(receiver: Receiver, path: str, question: str, name: str = "") -> str:
    """The code in the last message at `path` that asks `question` ("" until one came); on a
    channel several people share (a drill's), only the messages addressed to `name`."""
    asking = [m for m in messages_for(receiver, path) if m.startswith(name) and question in m]
    found = CODE.findall(asking[-1]) if asking else []
    return str(found[-1]) if found else ""


def leadership_only_plan(folder: Path) -> Path:
    """The shipped plan with a system failure made of the leadership group's automatic steps:
    its run asks people at activation, signoff and report acceptance and nothing in between
    (no manual task, no other acting group to sign off its cleanup or write a report part),
    so a gate test answers every question the run asks and it ends."""
    return write_plan(folder, leadership_only_data())


def leadership_only_data() -> dict[str, Any]:
    """The plan data `leadership_only_plan` writes, for a test to change further."""
    data = plan_data()
    spec = data["incident_types"]["system_failure"]
    steps = [step for step in spec["playbook"] if step.get("executor") != "manual"]
    spec["playbook"] = [{**step, "group": "leadership"} for step in steps]
    return data


@contextmanager
def link_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The webhook app (where signed links open) on a local port, and links made from now on
    pointing at it; yields its base URL."""
    from deployments.webhook import create_app
    from tests.webhook.server import serve

    monkeypatch.setenv("IRP_WEBHOOK_TOKEN", "t" * 32)
    get_settings.cache_clear()
    with serve(create_app(get_settings(), dispatch=lambda *_: None)) as base:
        monkeypatch.setenv("IRP_PUBLIC_URL", base)
        get_settings.cache_clear()
        yield base
