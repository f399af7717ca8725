"""Fixtures for notification tests: a live loopback HTTP receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notify.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started `Receiver` answering 200 until programmed otherwise."""
    with Receiver() as rx:
        yield rx
