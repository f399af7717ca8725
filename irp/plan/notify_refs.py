"""Cross-references in the plan's notifications section: audiences are known groups or roles."""

from __future__ import annotations

from models.plan import Plan

Loc = tuple[str | int, ...]


def notify_reference_errors(plan: Plan) -> list[tuple[Loc, str]]:
    """Every route and clock reminder audience names a group, role or directory contact (a
    template for an unknown audience is harmless: nothing routes to it); a contact id is
    one audience, so it may not repeat or shadow a group or role id."""
    org = plan.organisation
    known = set(org.groups) | set(org.roles)
    problems: list[tuple[Loc, str]] = []
    for rid, resource in plan.resources.items():
        for cid in resource.contacts:
            if cid in known:
                problems.append(
                    (("resources", rid, "contacts", cid), f"{cid!r} is already an audience id")
                )
            known.add(cid)
    notify = plan.notifications
    base: Loc = ("notifications",)

    def need(value: str, loc: Loc) -> None:
        if value not in known:
            problems.append((loc, f"unknown group, role or contact {value!r}"))

    for event, audiences in notify.routes.items():
        for i, audience in enumerate(audiences):
            need(audience, (*base, "routes", event, i))
    for key, rule in notify.clocks.items():
        for i, audience in enumerate(rule.remind):
            need(audience, (*base, "clocks", key, "remind", i))
    return problems
