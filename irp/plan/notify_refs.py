"""Cross-references in the plan's notifications section: audiences are known groups or roles."""

from __future__ import annotations

from models.plan import Plan

Loc = tuple[str | int, ...]


def notify_reference_errors(plan: Plan) -> list[tuple[Loc, str]]:
    """Every route and clock reminder audience names a group or role id (a template for an
    unknown audience is harmless: nothing routes to it)."""
    org = plan.organisation
    known = set(org.groups) | set(org.roles)
    problems: list[tuple[Loc, str]] = []
    notify = plan.notifications
    base: Loc = ("notifications",)

    def need(value: str, loc: Loc) -> None:
        if value not in known:
            problems.append((loc, f"unknown group or role {value!r}"))

    for event, audiences in notify.routes.items():
        for i, audience in enumerate(audiences):
            need(audience, (*base, "routes", event, i))
    for key, rule in notify.clocks.items():
        for i, audience in enumerate(rule.remind):
            need(audience, (*base, "clocks", key, "remind", i))
    return problems
