"""Loading and validating the plan file; errors name file, line, field and reason."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from irp.errors import PlanError
from irp.identity.people import people_errors
from irp.plan.drill_refs import drill_reference_errors
from irp.plan.notify_refs import notify_reference_errors
from irp.plan.simulated import simulated_in_real_incidents
from models.enums import IncidentType
from models.incident import Incident
from models.intake import INTAKE_MODELS
from models.plan import LIVE_EXECUTORS, ActionSpec, Plan

DEFAULT_PLAN_FILE = Path(__file__).with_name("default_plan.yaml")

Loc = tuple[str | int, ...]

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML has it: every new flow-run process loads the plan, and
the pure-Python one took ~0.2 s of that."""


def load_plan(path: Path | str | None = None, *, for_real_incidents: bool = False) -> Plan:
    """Read and validate a plan file; raise PlanError listing every problem.
    `for_real_incidents` (`irp plan validate`) also refuses unmarked `simulate` steps."""
    path = Path(path) if path is not None else DEFAULT_PLAN_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        data = yaml.load(text, Loader=_YamlLoader)  # a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise PlanError([f"{path}:{line}: (yaml): {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(data, dict):
        raise PlanError([f"{path}:1: (root): the plan must be a mapping"])
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        found = [
            (_data_loc(data, tuple(e["loc"])), e["msg"].removeprefix("Value error, "))
            for e in exc.errors()
        ]
        partial, pruned = _partial_plan(data)
        if partial is not None:
            found += _unaffected(reference_errors(partial), pruned)
        raise PlanError(_messages(path, _lines(text), found)) from exc
    problems = reference_errors(plan)
    if for_real_incidents:
        problems += simulated_in_real_incidents(plan)
    if problems:
        raise PlanError(_messages(path, _lines(text), problems))
    return plan


def _partial_plan(data: dict[str, Any]) -> tuple[Plan | None, list[Loc]]:
    """The plan without the parts pydantic refused, so that the rest's cross-references are
    checked in the same round (a plan is fixed in one pass, not error by error).

    Each step removes the refused node; a node that cannot be left out (a required field)
    takes its parent with it; a list goes whole, so the indexes in later messages stay true.
    """
    data = copy.deepcopy(data)
    pruned: list[Loc] = []
    for _ in range(_MAX_PRUNES):
        try:
            return Plan.model_validate(data), pruned
        except ValidationError as exc:
            loc = _prune_point(data, _data_loc(data, tuple(exc.errors()[0]["loc"])))
        if not loc:
            break
        parent = _node_at(data, loc[:-1])
        if isinstance(parent, dict):
            del parent[loc[-1]]
        pruned.append(loc)
    return None, pruned


_MAX_PRUNES = 500


def _unaffected(problems: list[tuple[Loc, str]], pruned: list[Loc]) -> list[tuple[Loc, str]]:
    """Reference problems that are not consequences of a refused part: none inside it, and
    none naming an entry that was refused (that entry is reported already)."""
    names = {repr(loc[-1]) for loc in pruned}
    return [
        (loc, msg)
        for loc, msg in problems
        if not any(loc[: len(p)] == p for p in pruned) and not any(n in msg for n in names)
    ]


def _data_loc(data: Any, loc: Loc) -> Loc:
    """A pydantic error location as a path in the YAML data: a refused dict key (`[key]`)
    is its entry's path; a missing field is named under its parent; what pydantic adds
    below a value (union members) is left out."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if part == "[key]" or not isinstance(node, dict | list):
            break
        child = _child_data(node, part)
        if child is _ABSENT and isinstance(node, list):
            break
        path.append(part)
        node = child
    return tuple(path)


def _prune_point(data: Any, loc: Loc) -> Loc:
    """The node to remove for an error at `loc`: the node itself if present, else its
    parent; the whole list for a list item."""
    path = loc
    while path and _node_at(data, path) is _ABSENT:
        path = path[:-1]
    for i in range(len(path)):
        if isinstance(_node_at(data, path[:i]), list):
            return path[:i]
    return path


_ABSENT = object()


def _child_data(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part, _ABSENT)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return _ABSENT


def _node_at(data: Any, loc: Loc) -> Any:
    node = data
    for part in loc:
        node = _child_data(node, part)
    return node


def _lines(text: str) -> yaml.Node | None:
    """The document's node tree, which knows each value's line: read again only to report
    problems, so a valid plan is parsed once."""
    return yaml.compose(text, Loader=_YamlLoader)


def _messages(path: Path, root: yaml.Node | None, found: list[tuple[Loc, str]]) -> list[str]:
    """Every problem as file:line: field: reason, in the order of the file."""
    lines = [(_line(root, loc), _message(path, root, loc, msg)) for loc, msg in found]
    return [text for _, text in sorted(lines, key=lambda pair: pair[0])]


@lru_cache(maxsize=8)
def _cached_plan(path: str) -> Plan:
    return load_plan(path)


def get_plan(path: Path | str | None = None) -> Plan:
    """The plan for a run (`path`, else IRP_PLAN_FILE, else the shipped plan), cached per file."""
    from irp.settings import get_settings

    path = path or get_settings().plan_file
    return _cached_plan(str(Path(path).resolve()) if path else str(DEFAULT_PLAN_FILE))


def plan_for(incident: Incident) -> Plan:
    """The plan the incident was opened with, for code outside its flow (the CLI, the deadline
    watch). Inside the flow the run's own plan, perhaps adjusted for a drill, is passed down."""
    return get_plan(incident.options.get("plan_file"))


def reference_errors(plan: Plan) -> list[tuple[Loc, str]]:
    """Cross-references pydantic cannot check: roles, groups, gates, resources exist."""
    org = plan.organisation
    roles, groups = set(org.roles), set(org.groups)
    problems: list[tuple[Loc, str]] = []

    def need(kind: str, known: set[str], value: str | None, loc: Loc) -> None:
        if value is not None and value not in known:
            problems.append((loc, f"unknown {kind} {value!r} (known: {', '.join(sorted(known))})"))

    for field in ("commander", "deputy"):
        need("role", roles, getattr(org, field), ("organisation", field))
    for rid, role in org.roles.items():
        need("group", groups, role.group, ("organisation", "roles", rid, "group"))
    for gid, group in org.groups.items():
        base: Loc = ("organisation", "groups", gid)
        need("role", roles, group.leader, (*base, "leader"))
        need("role", roles, group.deputy, (*base, "deputy"))
        for i, member in enumerate(group.members):
            need("role", roles, member, (*base, "members", i))
    for key, gate in plan.gates.items():
        for field in ("deciders", "escalate_to"):
            for i, rid in enumerate(getattr(gate, field)):
                need("role", roles, rid, ("gates", key, field, i))
        if gate.on_timeout == "escalate" and not gate.escalate_to:
            problems.append(
                (("gates", key, "escalate_to"), "on_timeout escalate needs escalate_to")
            )
    for required in ("triage", "activation", "signoff", plan.report.acceptance_gate):
        if required not in plan.gates:
            problems.append((("gates",), f"missing gate {required!r} (the stage skeleton asks it)"))
    triage = plan.gates.get("triage")
    for field in ("on_timeout", "on_final_timeout"):
        if triage is not None and getattr(triage, field) == "proceed":
            problems.append((("gates", "triage", field), "proceed: a person must choose the type"))
    for itype in INTAKE_MODELS:
        if itype not in plan.incident_types:
            problems.append((("incident_types",), f"missing incident type {itype.value!r}"))
    if IncidentType.unknown in plan.incident_types:
        problems.append(
            (("incident_types", "unknown"), "not a type to respond to: triage chooses one")
        )
    for itype, spec in plan.incident_types.items():
        base = ("incident_types", itype.value)
        seen: set[str] = set()
        for i, action in enumerate(spec.playbook):
            loc: Loc = (*base, "playbook", i)
            if action.key in seen:
                problems.append(((*loc, "key"), f"duplicate action key {action.key!r}"))
            seen.add(action.key)
            need("group", groups, action.group, (*loc, "group"))
            need("gate", set(plan.gates), action.gate, (*loc, "gate"))
            for j, sub in enumerate(action.subtypes):
                need("subtype", set(spec.subtypes), sub, (*loc, "subtypes", j))
            undo = action.undo
            if (
                action.drill_safe
                and undo
                and undo.executor in LIVE_EXECUTORS
                and not undo.drill_safe
            ):
                problems.append(
                    ((*loc, "undo", "drill_safe"), "the action is drill_safe: its undo must be too")
                )
        problems += _manual_task_errors(plan, spec.playbook, (*base, "playbook"))
        for i, res in enumerate(spec.resources):
            need("resource", set(plan.resources), res.resource, (*base, "resources", i, "resource"))
        if spec.requires_evidence and not any(a.evidence for a in spec.playbook):
            problems.append(
                ((*base, "playbook"), "requires_evidence but no action preserves evidence")
            )
    for rid, inventory in plan.resources.items():
        need("group", groups, inventory.owner, ("resources", rid, "owner"))
    problems += notify_reference_errors(plan)
    problems += drill_reference_errors(plan)
    problems += people_errors(plan)
    return problems


def _manual_task_errors(plan: Plan, playbook: list[ActionSpec], base: Loc) -> list[tuple[Loc, str]]:
    """A task's owner is a role of its group; `after` names keys of the same playbook and
    never loops back (a cycle would wait forever)."""
    org = plan.organisation
    keys = {action.key: i for i, action in enumerate(playbook)}
    problems: list[tuple[Loc, str]] = []
    for i, action in enumerate(playbook):
        group = org.groups.get(action.group)
        if action.owner is not None and group is not None:
            members = {group.leader, group.deputy, *group.members}
            members |= {rid for rid, role in org.roles.items() if role.group == action.group}
            if action.owner not in members:
                known = ", ".join(sorted(m for m in members if m))
                problems.append(
                    (
                        (*base, i, "owner"),
                        f"unknown owner {action.owner!r} in group {action.group!r} (known: {known})",
                    )
                )
        for j, key in enumerate(action.after):
            if key not in keys or key == action.key:
                problems.append(((*base, i, "after", j), f"unknown action key {key!r} in after"))
    for key in _in_cycle(playbook, set(keys)):
        problems.append(
            ((*base, keys[key], "after"), f"{key!r} can never start: its after loops (a cycle)")
        )
    return problems


def _in_cycle(playbook: list[ActionSpec], known: set[str]) -> list[str]:
    """Keys that can never start: what remains after repeatedly removing the ready ones."""
    waits = {a.key: {k for k in a.after if k in known and k != a.key} for a in playbook}
    while True:
        ready = [key for key, before in waits.items() if not before]
        if not ready:
            return sorted(waits)
        for key in ready:
            del waits[key]
        for before in waits.values():
            before.difference_update(ready)


def _message(path: Path, root: yaml.Node | None, loc: Loc, msg: str) -> str:
    field = ".".join(str(p) for p in loc) or "(root)"
    return f"{path}:{_line(root, loc)}: {field}: {msg}"


def _line(node: yaml.Node | None, loc: Loc) -> int:
    """The 1-based line of the deepest YAML node the location reaches."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: Any, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                child: yaml.Node = value
                return child
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item: yaml.Node = node.value[part]
        return item
    return None
