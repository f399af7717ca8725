"""Message text per audience: leadership summary, technical detail, customer notice draft,
regulator notification draft. Facts irp does not know yet are marked, never guessed:
`[TO BE CONFIRMED: cause]`. Every title and body passes the plan's redactor last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from irp.notify.clocks import describe
from irp.redact import Redactor
from models import Incident
from models.plan import Plan
from models.plan_notify import REGULATOR_FIELDS, TemplateKind

HEADLINES: dict[str, str] = {
    "report_received": "Incident reported",
    "plan_activated": "Emergency response plan activated",
    "gate_waiting": "Decision needed",
    "gate_escalated": "Decision escalated after a timeout",
    "contained": "Incident contained",
    "closed": "Incident ended",
    "report_ready": "Post-incident report ready",
    "clock_reminder": "Regulatory deadline reminder",
    "task_open": "Task for your group",
    "task_overdue": "Task overdue: reminder and escalation",
}
TEMPLATE_TITLES: dict[TemplateKind, str] = {
    "leadership": "leadership summary",
    "technical": "technical detail",
    "customer_notice": "customer notice draft",
    "regulator_draft": "regulator notification draft",
}


def tbc(what: str) -> str:
    """The marker for a fact still unknown; reviewers search for it before sending."""
    return f"[TO BE CONFIRMED: {what}]"


@dataclass
class MessageContext:
    """What a template may say: the incident, its plan, clocks, measures and event details."""

    incident: Incident
    plan: Plan
    event: str
    clocks: list[dict[str, Any]] = field(default_factory=list)
    measures: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def render(kind: TemplateKind, ctx: MessageContext, audience: str, redactor: Redactor) -> Message:
    """Title and body for one audience, redacted."""
    incident = ctx.incident
    prefix = "[DRILL] " if incident.drill else ""
    title = (
        f"{prefix}{incident.id} {HEADLINES.get(ctx.event, ctx.event)}: {incident.summary} "
        f"[{audience}]"
    )
    head = [
        f"{prefix}{TEMPLATE_TITLES[kind]} for {audience} - {HEADLINES.get(ctx.event, ctx.event)}",
        "",
    ]
    body = "\n".join([*head, *_RENDERERS[kind](ctx), "", *_event_lines(ctx)]).rstrip() + "\n"
    return Message(redactor.redact(title)[:500], redactor.redact(body))


def _status_lines(ctx: MessageContext) -> list[str]:
    i = ctx.incident
    return [
        f"Incident: {i.id} ({i.type.value}{f' / {i.subtype}' if i.subtype else ''})",
        f"Priority: {i.priority.value if i.priority else 'not graded yet'}; "
        f"national grade: {i.national_grade.value if i.national_grade else 'not graded yet'}",
        f"Status: {i.status.value}, stage {i.stage.value}; commander: {i.commander or '-'}",
        f"Detected: {_fmt(i.detected_at)}",
        f"Summary: {i.summary}",
    ]


def _clock_lines(ctx: MessageContext) -> list[str]:
    if not ctx.clocks:
        return ["Regulatory clocks: none started"]
    return ["Regulatory clocks:", *(f"- {describe(row)}" for row in ctx.clocks)]


def _leadership(ctx: MessageContext) -> list[str]:
    scope = ctx.incident.scope or {}
    people = scope.get("people_affected") or 0
    return [
        *_status_lines(ctx),
        f"Users affected (estimate): {people or tbc('users affected')}",
        *_clock_lines(ctx),
    ]


def _technical(ctx: MessageContext) -> list[str]:
    i = ctx.incident
    facts = {k: v for k, v in (i.facts or {}).items() if v not in (None, "", 0, [], False)}
    lines = [
        *_status_lines(ctx),
        f"Service: {i.service or tbc('service')}",
        "Facts: " + ("; ".join(f"{k}={v}" for k, v in sorted(facts.items())) or "none stated"),
        f"Description: {i.description or '-'}",
        "Measures done: " + ("; ".join(ctx.measures) or "none yet"),
    ]
    return lines


def _customer_notice(ctx: MessageContext) -> list[str]:
    i, notify = ctx.incident, ctx.plan.notifications
    categories = ", ".join(i.facts.get("data_categories") or []) or tbc("data involved")
    return [
        "DRAFT - legal approves before anything goes to users (gate user_notice).",
        f"Internal reference: {i.id}, status {i.status.value}",
        "",
        f"Subject: Security incident affecting {i.service or tbc('service name')}",
        f"What happened: {i.summary} (detected {_fmt(i.detected_at)}).",
        f"What information was involved: {categories}.",
        "What we are doing: " + ("; ".join(ctx.measures) or tbc("measures taken")) + ".",
        f"What you can do: {tbc('advice to users')}.",
        f"Contact: {notify.contact or tbc('contact point')}.",
    ]


def _regulator_draft(ctx: MessageContext) -> list[str]:
    if not ctx.clocks:
        return [
            *_status_lines(ctx),
            "No regulatory clock has started: no notification to an authority is due yet.",
        ]
    lines = [*_status_lines(ctx)]
    for row in ctx.clocks:
        rule = ctx.plan.notifications.clocks.get(row["rule"])
        lines += [
            "",
            f"== Draft to {row['authority']} ({row['source']}) ==",
            f"Clock: {describe(row)}",
        ]
        if row["status"] == "running":
            lines.append(
                f"Record it as sent: irp clocks stop {ctx.incident.id} {row['rule']} "
                '--by <name> --reference "<filing ref>"'
            )
        for key in rule.content if rule is not None else []:
            lines.append(f"{REGULATOR_FIELDS[key]}: {_field(ctx, key)}")
    return lines


def _field(ctx: MessageContext, key: str) -> str:
    getter = _FIELDS.get(key)
    value = getter(ctx) if getter is not None else None
    return value if value else tbc(REGULATOR_FIELDS[key].lower())


def _impact(ctx: MessageContext) -> str | None:
    i = ctx.incident
    parts = []
    if people := (i.scope or {}).get("people_affected"):
        parts.append(f"about {people} users affected")
    if records := i.facts.get("records_affected"):
        parts.append(f"about {records} records")
    if services := (i.scope or {}).get("affected_services"):
        parts.append("services: " + ", ".join(services))
    if minutes := (i.scope or {}).get("outage_minutes"):
        parts.append(f"{minutes:g} min outage")
    return "; ".join(parts) or None


def _people_and_records(ctx: MessageContext) -> str | None:
    people = (ctx.incident.scope or {}).get("people_affected") or 0
    records = ctx.incident.facts.get("records_affected") or 0
    if not people and not records:
        return None
    return f"about {people or tbc('people')} people, {records or tbc('records')} records"


def _roles(ctx: MessageContext) -> str:
    org = ctx.plan.organisation
    groups = "; ".join(f"{g.title}: {org.roles[g.leader].person}" for g in org.groups.values())
    return f"Commander {org.roles[org.commander].person}; {groups}"


_FIELDS: dict[str, Callable[[MessageContext], str | None]] = {
    "unit": lambda c: c.plan.notifications.reporting_unit,
    "system": lambda c: c.incident.service,
    "discovery_time": lambda c: _fmt(c.incident.detected_at),
    "incident_type": lambda c: (
        c.incident.type.value.replace("_", " ")
        + (f" / {c.incident.subtype}" if c.incident.subtype else "")
    ),
    "grade": lambda c: (
        f"national grade {c.incident.national_grade.value}" if c.incident.national_grade else None
    ),
    "impact": _impact,
    "measures": lambda c: "; ".join(c.measures) or None,
    "remedial_steps": lambda c: "; ".join(c.measures) or None,
    "data_types": lambda c: ", ".join(c.incident.facts.get("data_categories") or []) or None,
    "cause": lambda c: c.incident.facts.get("leak_vector") or None,
    "nature": lambda c: c.incident.summary,
    "people_and_records": _people_and_records,
    "contact": lambda c: c.plan.notifications.contact,
    "dpo_contact": lambda c: c.plan.notifications.dpo_contact,
    "roles": _roles,
}

_RENDERERS: dict[TemplateKind, Callable[[MessageContext], list[str]]] = {
    "leadership": _leadership,
    "technical": _technical,
    "customer_notice": _customer_notice,
    "regulator_draft": _regulator_draft,
}


def _event_lines(ctx: MessageContext) -> list[str]:
    """What this event asks of the reader: a decision link, an escalation, a report path."""
    x, iid = ctx.extra, ctx.incident.id
    if ctx.event in ("gate_waiting", "gate_escalated"):
        lines = [
            f"Gate: {x.get('gate_title', x.get('gate'))} (round {x.get('round', 1)})",
            f"Question: {x.get('question', '')}",
            f"May decide: {', '.join(x.get('deciders', [])) or '-'}",
        ]
        if ctx.event == "gate_escalated":
            waited = x.get("timeout_s")
            waited_text = f"{waited:g}" if isinstance(waited, int | float) else "?"
            lines.insert(0, f"Nobody decided within {waited_text} s; escalated.")
        lines.append(f"Prefect UI: {x.get('run_link') or 'flow run ' + str(x.get('flow_run_id'))}")
        lines.append(
            f'From a shell: irp approve {iid} --decision approve --by <role> --comment "..."'
        )
        return lines
    if ctx.event in ("task_open", "task_overdue"):
        return [
            f"Task {x.get('task')}: {x.get('task_title')} (owners: {', '.join(x.get('owners', []))})",
            f"What to do: {x.get('instructions', '')}",
            f"Due: {_fmt(x.get('due_at'))}",
            f'Answer: irp tasks done {x.get("task")} --by <role> --note "..." (or fail, skip), '
            f"or in the Prefect UI: {x.get('run_link') or 'flow run ' + str(x.get('flow_run_id'))}",
        ]
    if ctx.event == "report_ready":
        return [f"Report: {x.get('report_path', tbc('report path'))}"]
    if ctx.event == "closed":
        return [f"Ended as: {ctx.incident.status.value}"]
    if ctx.event == "clock_reminder":
        share = float(x.get("share", 0))
        word = "EXPIRED" if share >= 1 else f"{share:.0%} of the window used"
        return [
            f"Reminder: clock {x.get('rule')} {word}; deadline {_fmt(x.get('deadline_at'))}",
            f"When sent: irp clocks stop {iid} {x.get('rule')} --by <name> --reference <ref>",
        ]
    return []


def _fmt(value: object) -> str:
    if not isinstance(value, datetime):
        return str(value) if value else "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
