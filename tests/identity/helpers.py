"""What a person's channel received: their codes and links, read off a local receiver."""

from __future__ import annotations

import re

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
