"""PLAN 5: reserve resources from the inventory for an incident, release them after cleanup."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from irp.incidents import timeline
from models import Incident, ResourceAllocation
from models.base import utcnow
from models.enums import Stage
from models.plan import Plan, ResourceNeed


def in_use(session: Session, resource: str) -> int:
    """Units held by open allocations of every incident."""
    query = select(func.coalesce(func.sum(ResourceAllocation.reserved), 0)).where(
        ResourceAllocation.resource == resource, col(ResourceAllocation.released_at).is_(None)
    )
    return int(session.exec(query).one())


def allocations(session: Session, incident_id: str) -> list[ResourceAllocation]:
    query = select(ResourceAllocation).where(ResourceAllocation.incident_id == incident_id)
    return list(session.exec(query.order_by(col(ResourceAllocation.id))))


def reserve(
    session: Session, plan: Plan, incident: Incident, needs: list[ResourceNeed]
) -> list[ResourceAllocation]:
    """Reserve what is free; a shortfall is recorded and escalated, never ignored."""
    held = {a.resource for a in allocations(session, incident.id)}
    made: list[ResourceAllocation] = []
    for need in needs:
        if need.resource in held:
            continue
        inventory = plan.resources[need.resource]
        free = max(inventory.quantity - in_use(session, need.resource), 0)
        reserved = min(free, need.quantity)
        shortfall = need.quantity - reserved
        allocation = ResourceAllocation(
            incident_id=incident.id,
            resource=need.resource,
            requested=need.quantity,
            reserved=reserved,
            shortfall=shortfall,
            status="short" if shortfall else "reserved",
        )
        session.add(allocation)
        made.append(allocation)
        timeline.record(
            session,
            incident.id,
            Stage.logistics,
            "resource_reserved",
            f"{inventory.title}: reserved {reserved} of {need.quantity} {inventory.unit}",
            actor=inventory.owner,
            data={"resource": need.resource, "reserved": reserved, "requested": need.quantity},
        )
        if shortfall:
            commander = plan.organisation.commander
            timeline.record(
                session,
                incident.id,
                Stage.logistics,
                "escalation",
                f"Shortfall: {shortfall} {inventory.unit} of {inventory.title} missing; "
                f"escalated to {plan.organisation.roles[commander].title}",
                actor="logistics",
                data={"resource": need.resource, "shortfall": shortfall, "escalated_to": commander},
            )
    session.flush()
    return made


def release(session: Session, incident: Incident) -> list[ResourceAllocation]:
    """Return everything the incident holds to the inventory."""
    released = []
    for allocation in allocations(session, incident.id):
        if allocation.released_at is None:
            allocation.released_at = utcnow()
            allocation.status = "released"
            session.add(allocation)
            released.append(allocation)
    if released:
        names = ", ".join(f"{a.resource} x{a.reserved}" for a in released)
        timeline.record(
            session, incident.id, Stage.cleanup, "resources_released", f"Released {names}"
        )
    return released
