"""Logistics stage (PLAN 4.4 and 5): reserve people and resources from the inventory."""

from __future__ import annotations

from prefect import task

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.response import logistics
from models.plan import Plan
from tasks.common import DB_TASK


@task(name="reserve-resources", **DB_TASK)
def reserve_resources(incident_id: str, plan: Plan, extra_shortfall: dict[str, int]) -> list[str]:
    """Reserve the type's needs; `extra_shortfall` lets a drill ask for more than exists."""
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        needs = [
            need.model_copy(
                update={"quantity": need.quantity + extra_shortfall.get(need.resource, 0)}
            )
            for need in plan.incident_type(incident.type).resources
        ]
        made = logistics.reserve(session, plan, incident, needs)
        return [f"{a.shortfall} x {a.resource}" for a in made if a.shortfall]
