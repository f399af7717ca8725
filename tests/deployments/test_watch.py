"""The work-pool watch hands over to the next scheduled run instead of overlapping it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deployments.watch import HANDOVER_S, WATCH_MINUTES, deadline_watch, watch_seconds

pytestmark = [pytest.mark.no_database]
T = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_a_run_ends_before_the_next_scheduled_run_is_due() -> None:
    default = deadline_watch.parameters.properties["minutes"]["default"]
    late_start = T + timedelta(seconds=20)
    watched = watch_seconds(T, default, late_start)
    assert late_start + timedelta(seconds=watched) == T + timedelta(
        minutes=WATCH_MINUTES, seconds=-HANDOVER_S
    )


def test_a_run_started_after_its_window_does_not_watch() -> None:
    assert watch_seconds(T, 1, T + timedelta(minutes=2)) == 0.0
    assert watch_seconds(T, 1, T) == 60.0
