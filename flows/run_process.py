"""A run tells Prefect which process drives it, so the recovery watch on its host sees at once
when that process dies (irp/run_process.py says how the labels are read)."""

from __future__ import annotations

import logging

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext

from irp.run_process import labels_for_this_process

log = logging.getLogger("irp.flows")


def label_process() -> None:
    """Label the current flow run with this process; without labels recovery still works,
    only later (Prefect's heartbeat window), so a failure here never stops the incident."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run_labels(context.flow_run.id, labels_for_this_process())
    except Exception as exc:  # noqa: BLE001
        log.warning("labelling flow run %s: %s", context.flow_run.id, type(exc).__name__)
