"""A run tells Prefect which process drives it, so the recovery watch on its host sees at once
when that process dies (irp/incidents/run_process.py says how the labels are read)."""

from __future__ import annotations

import logging
import time
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

from irp.incidents.run_process import labels_for_this_process

log = logging.getLogger("irp.flows")

_labelled: set[UUID] = set()
"""Runs this process has labelled since they last entered Running here: labels are read against
the Running state's start, so once per entry is enough."""

_PAUSES_S = (0.05, 0.1, 0.2, 0.4)
"""Between attempts. A SQLite Prefect server answers a write that meets another with a 503,
which Prefect's client retries after ~2 s: in line with a stage that cost a drill 2 s a stage.
The labels must land before the run goes on (a process killed at the next gate is found dead
by them), so they are sent here, with short retries of our own."""


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
    labels = labels_for_this_process()
    with (
        temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}),
        get_client(sync_client=True) as client,
    ):
        for pause in (*_PAUSES_S, None):
            try:
                client.update_flow_run_labels(run_id, labels)
            except Exception as exc:  # noqa: BLE001
                if pause is None:
                    log.warning("labelling flow run %s: %s", run_id, exc)
                    return
                time.sleep(pause)
            else:
                _labelled.add(run_id)
                return
