"""A run tells Prefect which process drives it, so the recovery watch on its host sees at once
when that process dies (irp/incidents/run_process.py says how the labels are read)."""

from __future__ import annotations

import contextvars
import logging
import threading
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext

from irp.incidents.run_process import labels_for_this_process

log = logging.getLogger("irp.flows")

_labelled: set[UUID] = set()
"""Runs this process has labelled since they last entered Running here: labels are read against
the Running state's start, so once per entry is enough."""


def label_process(*, running_again: bool = False) -> None:
    """Label the current flow run with this process, once per entry into Running (pass
    `running_again` after an in-process pause). Without labels recovery still works, only later
    (Prefect's heartbeat window), so a failure here never stops the incident."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    run_id = context.flow_run.id
    if run_id in _labelled and not running_again:
        return
    _labelled.add(run_id)
    # Off the stage's path: a SQLite Prefect server answers a write that meets another with a
    # 503 the client retries after ~2 s, which cost a drill 2 s a stage when done in line.
    # The thread sees this context's Prefect settings (the API a test or a run was given).
    send = contextvars.copy_context().run
    labels = labels_for_this_process()
    threading.Thread(
        target=send, args=(_send, run_id, labels), name="irp-label", daemon=True
    ).start()


def _send(run_id: UUID, labels: dict[str, bool | int | float | str]) -> None:
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run_labels(run_id, labels)
    except Exception as exc:  # noqa: BLE001
        log.warning("labelling flow run %s: %s", run_id, exc)
