"""Who holds a role, and through which channels their codes reach them.

A role lists person ids (`organisation.people`); a role without `people` is held by its
`person`, reached at the role's `notify` URLs, and that person's id is the role id.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from irp.plan.env_refs import ENV_REFERENCE
from models.plan import Plan
from models.plan_duties import GROUP_SIGNOFF_PREFIX

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Decider:
    """A person who may answer, the role they answer in, and their own channels."""

    person: str
    name: str
    role: str
    channels: tuple[SecretStr, ...]


def holders(plan: Plan, role_id: str) -> list[Decider]:
    """The people holding `role_id`."""
    org = plan.organisation
    role = org.roles[role_id]
    if not role.people:
        return [Decider(role_id, role.person, role_id, tuple(role.notify))]
    return [
        Decider(pid, org.people[pid].name, role_id, tuple(org.people[pid].channels))
        for pid in role.people
        if pid in org.people
    ]


def deciders(plan: Plan, role_ids: list[str]) -> list[Decider]:
    """Everyone who may answer a round asked of `role_ids`; a person in two of the roles
    answers in the first."""
    found: dict[str, Decider] = {}
    for role_id in role_ids:
        for decider in holders(plan, role_id):
            found.setdefault(decider.person, decider)
    return list(found.values())


def task_owners(plan: Plan, owner: str | None, group: str) -> list[str]:
    """The role ids that may answer a manual task: its owner, else every role of its group."""
    if owner:
        return [owner]
    org = plan.organisation
    team = org.groups[group]
    roles = [team.leader, *([team.deputy] if team.deputy else []), *team.members]
    roles += [rid for rid, role in org.roles.items() if role.group == group]
    return list(dict.fromkeys(roles))


def named(plan: Plan, role_ids: list[str], who: str) -> Decider | None:
    """The person among those who may answer for `role_ids` that `who` names, by person id
    or name (any case); None when it names nobody of them."""
    wanted = who.strip().lower()
    for decider in deciders(plan, role_ids):
        if wanted in (decider.person.lower(), decider.name.lower()):
            return decider
    return None


def people_errors(plan: Plan) -> list[tuple[Loc, str]]:
    """Role people are known person ids, and every gate decider (or escalation role) holder,
    each group's cleanup signers included, and every manual task owner's holder has a channel:
    without one nobody could prove an answer. A `${VARIABLE}` reference counts (it is filled
    where the code is sent)."""
    org = plan.organisation
    problems: list[tuple[Loc, str]] = []
    for rid, role in org.roles.items():
        for i, pid in enumerate(role.people):
            if pid not in org.people:
                known = ", ".join(sorted(org.people)) or "none"
                problems.append(
                    (
                        ("organisation", "roles", rid, "people", i),
                        f"unknown person {pid!r} (known: {known})",
                    )
                )
    policies = [*plan.gates.values()]
    # The group sign-offs need the commander's role and the `signoff` gate; a plan without
    # them (or whose entry was refused) is told so by reference_errors, not by a KeyError here.
    if org.commander in org.roles and "signoff" in plan.gates:
        signing = [g for g in org.groups if g != plan.leadership_group]  # leadership: `signoff`
        policies += [plan.gate_policy(f"{GROUP_SIGNOFF_PREFIX}{g}") for g in signing]
    does = {r: "owns manual tasks" for r in _task_owner_roles(plan)}
    does |= {r: "decides gates" for gate in policies for r in (*gate.deciders, *gate.escalate_to)}
    for rid in sorted(set(does) & set(org.roles)):
        for decider in holders(plan, rid):
            if not any(_usable(c) for c in decider.channels):
                where: Loc = (
                    ("organisation", "people", decider.person, "channels")
                    if org.roles[rid].people
                    else ("organisation", "roles", rid, "notify")
                )
                problems.append(
                    (where, f"{decider.name!r} {does[rid]} ({rid}) but has no channel for codes")
                )
    return problems


def _task_owner_roles(plan: Plan) -> set[str]:
    return {
        rid
        for kind in plan.incident_types.values()
        for action in kind.playbook
        if action.executor == "manual" and action.group in plan.organisation.groups
        for rid in task_owners(plan, action.owner, action.group)
    }


def _usable(channel: SecretStr) -> bool:
    raw = channel.get_secret_value().strip()
    return "://" in raw or bool(ENV_REFERENCE.fullmatch(raw))


def person_name(plan: Plan, person_id: str) -> str:
    """The name a person id stands for (a role id for a role's implied person)."""
    org = plan.organisation
    if person_id in org.people:
        return org.people[person_id].name
    role = org.roles.get(person_id)
    return role.person if role is not None else person_id
