"""Policy shared by irp's tasks: database work retries briefly, results are not cached."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

# The database is the idempotency record; Prefect's cache must not skip a step the database
# says is still to do.
DB_TASK: dict[str, Any] = {"retries": 2, "retry_delay_seconds": [0.5, 2], "cache_policy": NO_CACHE}
