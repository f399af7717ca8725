"""Flow runs are named after their incident (`INC-1A2B3C4D Payment gateway down`, drills
`DRILL INC-...`), so the Prefect UI's run list reads as an incident list. Masked: a name
leaves irp in the UI, in logs and in events."""

from __future__ import annotations

import textwrap

from irp.redact import default_redactor
from models import Incident

MAX_NAME = 120


def incident_run_name(incident_id: str | None, summary: str, *, drill: bool) -> str:
    """`[DRILL ]INC-... summary`, personal data masked, one line, at most MAX_NAME long."""
    head = " ".join(p for p in ("DRILL" if drill else "", incident_id or "") if p)
    title = default_redactor().redact(" ".join(summary.split()))
    return textwrap.shorten(f"{head} {title}".strip(), MAX_NAME, placeholder="...")


def run_name_of(incident: Incident) -> str:
    """The name of the run that drives `incident`."""
    return incident_run_name(incident.id, incident.summary, drill=incident.drill)
