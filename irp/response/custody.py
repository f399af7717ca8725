"""Evidence and its chain of custody: what, where, SHA-256, who, when."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlmodel import Session, col, select

from irp.errors import EvidenceNotPreserved
from irp.incidents import timeline
from models import Evidence, Incident, TimelineEvent
from models.base import utcnow
from models.enums import Stage


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


def require_preserved(session: Session, incident: Incident) -> list[Evidence]:
    """Cleanup of a breach or insider case waits for evidence (chain of custody)."""
    found = items(session, incident.id)
    if not found:
        raise EvidenceNotPreserved(
            f"{incident.id}: cleanup cannot start before evidence is preserved "
            f"(record it with `irp evidence add {incident.id} ...`)"
        )
    message = f"{len(found)} evidence item(s) on record; cleanup may start"
    said = session.exec(
        select(TimelineEvent.message)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "evidence_checked")
        .order_by(col(TimelineEvent.id).desc())
    ).first()
    if said != message:  # a run resumed at sign-off checks again: said once unless it changed
        timeline.record(session, incident.id, Stage.cleanup, "evidence_checked", message)
    return found
