"""Evidence and its chain of custody: what, where, SHA-256, who, when."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from sqlmodel import Session, col, select

from irp.incidents import timeline
from models import Evidence, Incident, TimelineEvent
from models.base import utcnow
from models.enums import Stage
from models.plan import ActionSpec, Plan

CLEANUP_TASK = "preserve_evidence_before_cleanup"
"""The task cleanup opens when a case that keeps evidence has none on record."""
CUSTODY = "custody"
"""A task's data key: what evidence its answer 'done' puts in the chain of custody."""
SHA256 = re.compile(r"(?i)(?:sha-?256\s*[:=]?\s*)?\b([0-9a-f]{64})\b")
REFERENCE_HOW = "where it is and its SHA-256, e.g. 'evidence locker 4, sha256:<64 hex>'"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def add_evidence(
    session: Session,
    incident: Incident,
    *,
    what: str,
    location: str,
    sha256: str,
    collected_by: str,
) -> Evidence:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise ValueError("sha256: expected 64 hexadecimal characters")
    item = Evidence(
        incident_id=incident.id,
        what=what,
        location=location,
        sha256=sha256.lower(),
        collected_by=collected_by,
    )
    session.add(item)
    session.flush()
    timeline.record(
        session,
        incident.id,
        incident.stage,
        "evidence_preserved",
        f"Evidence preserved: {what} at {location} (sha256 {item.sha256[:12]}...) by {collected_by}",
        actor=collected_by,
        data={"what": what, "location": location, "sha256": item.sha256},
    )
    return item


def preserve_manifest(
    session: Session, incident: Incident, evidence_dir: Path, *, what: str, collected_by: str
) -> Evidence:
    """Write a manifest of what was collected and put its hash in the chain of custody."""
    folder = evidence_dir / incident.id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(items(session, incident.id)) + 1:02d}-manifest.json"
    manifest = {
        "incident_id": incident.id,
        "what": what,
        "collected_by": collected_by,
        "collected_at": utcnow().isoformat(),
        "drill": incident.drill,
    }
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return add_evidence(
        session,
        incident,
        what=what,
        location=str(path),
        sha256=sha256_file(path),
        collected_by=collected_by,
    )


def items(session: Session, incident_id: str) -> list[Evidence]:
    query = select(Evidence).where(Evidence.incident_id == incident_id).order_by(col(Evidence.id))
    return list(session.exec(query))


def preserved(session: Session, incident: Incident) -> list[Evidence]:
    """What is on record before cleanup undoes anything; said on the timeline once (again only
    when it changed, as a run resumed at sign-off checks again)."""
    found = items(session, incident.id)
    if not found:
        return found
    message = f"{len(found)} evidence item(s) on record; cleanup may start"
    said = session.exec(
        select(TimelineEvent.message)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "evidence_checked")
        .order_by(col(TimelineEvent.id).desc())
    ).first()
    if said != message:
        timeline.record(session, incident.id, Stage.cleanup, "evidence_checked", message)
    return found


def parse_reference(reference: str) -> tuple[str, str] | None:
    """A person's evidence reference as (location, sha256), or None when it lacks either: the
    chain of custody needs where the evidence is and a hash that proves it unchanged."""
    match = SHA256.search(reference)
    if match is None:
        return None
    location = (reference[: match.start()] + reference[match.end() :]).strip(" ,;:-")
    return (location, match.group(1).lower()) if location else None


def cleanup_task(plan: Plan, incident: Incident) -> ActionSpec:
    """Work for the people of the playbook's evidence step (else the leadership group): put
    the evidence in the chain of custody, so that cleanup may start."""
    step = next((a for a in plan.incident_type(incident.type).playbook if a.evidence), None)
    what = step.evidence if step and step.evidence else "Evidence of the incident"
    return ActionSpec(
        key=CLEANUP_TASK,
        title=f"Preserve evidence before cleanup: {what}",
        group=step.group if step else plan.leadership_group,
        owner=step.owner if step else None,
        executor="manual",
        instructions=(
            f"Cleanup waits: no evidence is on record. Preserve it and answer done with "
            f"{REFERENCE_HOW} (or record it with `irp evidence add {incident.id}` first)."
        ),
        due_s=3600,
        needs=["note", "evidence"],
        evidence=what,
    )
