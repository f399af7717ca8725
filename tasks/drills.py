"""End of a drill: score it against the plan's targets and write the drill record for auditors."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.incidents import timeline
from irp.redact import plan_redactor
from irp.settings import get_settings
from models.enums import Stage
from models.plan import Plan
from tasks.common import publish


@task(name="score-drill", retries=2, retry_delay_seconds=[0.5, 2], cache_policy=NO_CACHE)
def score_drill(incident_id: str, plan: Plan) -> str:
    """Write scorecard.csv and drill-record.md/.html, keep the scores, publish the record."""
    from irp.drills import audit as drill_audit  # pandas: loaded when scoring, not at run start
    from irp.drills import scoring as drills

    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        card = drills.build_scorecard(session, plan, incident)
        drills.save_scores(session, incident, card)
        record = drill_audit.write_record(plan, incident, card, get_settings().reports_dir)
        timeline.record(
            session,
            incident_id,
            Stage.post_incident_report,
            "drill_scored",
            f"Drill scorecard: {card.met} of {card.total} targets met, {len(card.gaps)} gap(s); "
            f"record in {record.markdown_path}",
            data={"path": str(record.markdown_path), "met": card.met, "total": card.total},
        )
    key = incident_id.lower()
    # One artifact: the record's Results section is the scorecard (scorecard.csv on disk).
    publish({f"{key}-drill-record": ("Drill record", record.markdown)}, plan_redactor(plan))
    return str(record.markdown_path)
