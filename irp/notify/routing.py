"""Who hears what: plan groups and roles are the audiences, their Apprise URLs the targets.

Targets carry Apprise-style tags named after plan ids: a group's URLs are tagged with the
group id, a role's with the role id and the role's group id, a directory contact's (regulator,
card brand, vendor: the plan's resources) with the contact id. An audience (group, role or
contact id) reaches every target carrying its tag, so notifying `legal` reaches the legal
group's channel and each legal role's own URL. Drills go to the plan's drill targets (or the
run's `notify_url`) instead, unless the plan says drills may page real people.

A URL may name environment variables, `dingtalk://${DINGTALK_TOKEN}/`, so the plan file can be
committed without its secrets; a URL whose variable is unset is left out, with a warning.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from pydantic import SecretStr

from irp.plan.env_refs import ENV_REFERENCE
from models.plan import Plan
from models.plan_notify import TemplateKind

logger = logging.getLogger("irp.notify")
# A contact without its own entry in notifications.templates reads the words for its kind.
CONTACT_TEMPLATES: dict[str, TemplateKind] = {
    "regulator": "regulator_draft",
    "card_brand": "regulator_draft",
    "acquirer": "regulator_draft",
    "cloud_vendor": "technical",
    "security_vendor": "technical",
    "other": "leadership",
}


@dataclass(frozen=True)
class Target:
    """One Apprise URL (a secret), as configured (`ref`, `${VAR}` unexpanded), and its tags."""

    url: SecretStr
    tags: frozenset[str]
    ref: str


@dataclass(frozen=True)
class Route:
    """One message to send: to whom, in which words, where; `url` None means not sent.
    `ref` is the URL as configured, before `${VAR}` expansion (what an outbox row keeps)."""

    audience: str
    template: TemplateKind
    url: SecretStr | None
    reason: str = ""
    ref: str = ""


def resolve_url(url: SecretStr) -> SecretStr | None:
    """The URL with its `${VAR}` references filled from the environment; None if one is unset."""
    raw = url.get_secret_value()
    missing = [name for name in ENV_REFERENCE.findall(raw) if name not in os.environ]
    if missing:
        logger.warning("notification target left out: %s is not set", ", ".join(missing))
        return None
    if not ENV_REFERENCE.search(raw):
        return url
    return SecretStr(ENV_REFERENCE.sub(lambda m: os.environ[m.group(1)], raw))


def plan_targets(plan: Plan) -> list[Target]:
    """Every configured URL with its tags; the same URL from two places merges its tags."""
    tags: dict[str, set[str]] = {}
    urls: dict[str, SecretStr] = {}
    refs: dict[str, str] = {}
    org = plan.organisation
    owners = [(group.notify, {gid}) for gid, group in org.groups.items()]
    owners += [(role.notify, {rid, role.group}) for rid, role in org.roles.items()]
    owners += [(contact.notify, {cid}) for cid, contact in plan.contacts().items()]
    for configured, owner_tags in owners:
        for ref in configured:
            url = resolve_url(ref)
            if url is None:
                continue
            urls.setdefault(url.get_secret_value(), url)
            refs.setdefault(url.get_secret_value(), ref.get_secret_value())
            tags.setdefault(url.get_secret_value(), set()).update(owner_tags)
    return [Target(urls[key], frozenset(found), refs[key]) for key, found in tags.items()]


def select(targets: list[Target], tag: str) -> list[Target]:
    """Targets carrying `tag` (Apprise semantics for a single tag)."""
    return [t for t in targets if tag in t.tags]


def audiences(plan: Plan, event: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The event's audiences from the plan, plus `extra` (a gate's deciders), each once."""
    wanted = [*plan.notifications.routes.get(event, []), *extra]  # type: ignore[call-overload]
    return list(dict.fromkeys(wanted))


def template_for(plan: Plan, audience: str) -> TemplateKind:
    """The audience's template; a role without one uses its group's, a contact its kind's;
    else the leadership one."""
    templates = plan.notifications.templates
    if audience in templates:
        return templates[audience]
    role = plan.organisation.roles.get(audience)
    if role is not None and role.group in templates:
        return templates[role.group]
    contact = plan.contacts().get(audience)
    if contact is not None:
        return CONTACT_TEMPLATES[contact.kind]
    return "leadership"


def routes(
    plan: Plan,
    event: str,
    *,
    drill: bool,
    notify_url: str | None = None,
    extra: list[str] | tuple[str, ...] = (),
) -> list[Route]:
    """One route per (audience, target). `notify_url` replaces every target (drill override)."""
    found: list[Route] = []
    targets = plan_targets(plan)
    drill_policy = plan.notifications.drill
    drill_targets = [
        (url, ref.get_secret_value())
        for ref in drill_policy.targets
        if (url := resolve_url(ref)) is not None
    ]
    for audience in audiences(plan, event, extra):
        template = template_for(plan, audience)
        if notify_url:
            found.append(Route(audience, template, SecretStr(notify_url), ref=notify_url))
            continue
        if drill and not drill_policy.page_real_people:
            if not drill_targets:
                found.append(
                    Route(
                        audience,
                        template,
                        None,
                        "drill: the plan names no drill targets (or their variables are unset)",
                    )
                )
            found += [Route(audience, template, url, ref=ref) for url, ref in drill_targets]
            continue
        chosen = select(targets, audience)
        if not chosen:
            found.append(Route(audience, template, None, f"no notify URL for {audience!r}"))
        found += [Route(audience, template, t.url, ref=t.ref) for t in chosen]
    return found


def known_urls(plan: Plan) -> list[SecretStr]:
    """Every URL the plan holds (targets and drill targets), to find one again by its mask."""
    drill_targets = filter(None, map(resolve_url, plan.notifications.drill.targets))
    return [t.url for t in plan_targets(plan)] + list(drill_targets)
