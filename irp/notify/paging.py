"""The first page for an incident an alert opened, sent from the ingest path.

It goes through the outbox in the transaction that opens the incident, so the commander and
the report's audiences are paged before a flow run exists, and while the Prefect server is
down. The flow's report stage finds the rows (`recovery.announced`) and does not page again.
"""

from __future__ import annotations

from sqlmodel import Session

from irp.incidents import service as incidents
from irp.notify import service
from irp.plan.loader import plan_for

FIRST_PAGE = "report_received"


def page_opened(session: Session, incident_ids: list[str]) -> list[int]:
    """Queue the first page of each newly opened incident, to the event's audiences and the
    plan's commander; the caller commits, then kicks the delivery worker."""
    rows: list[int] = []
    for incident_id in incident_ids:
        incident = incidents.get_incident(session, incident_id)
        plan = plan_for(incident)
        commander = (plan.organisation.commander,)
        rows += service.enqueue(session, incident, FIRST_PAGE, plan, audiences=commander)
    return rows
