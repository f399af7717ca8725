"""The report and drill record templates: what people typed is text in HTML, never markup."""

from __future__ import annotations

import pandas as pd

from irp.db import session_scope
from irp.drills import audit as drill_audit
from irp.drills.scoring import Scorecard
from irp.incidents import service as incidents
from irp.plan.loader import get_plan
from irp.reporting import report as reporting
from irp.settings import get_settings
from models.enums import IncidentType, Stage
from tests.factories import make_report

HOSTILE = "<script>alert('x')</script> & <b>bold</b>"


def test_a_hostile_summary_is_escaped_in_the_html_and_kept_as_text_in_the_markdown() -> None:
    with session_scope() as session:
        incident = incidents.open_incident(
            session,
            IncidentType.data_breach,
            make_report(IncidentType.data_breach, summary=HOSTILE, description=HOSTILE),
            drill=True,
        )
        incidents.enter_stage(session, incident, Stage.report)
        incidents.complete_stage(session, incident, Stage.report)
        report = reporting.build_report(session, get_plan(), incident, get_settings().reports_dir)

    page = (report.folder / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "<b>" not in page
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    assert page.count(escaped) == 4  # title, heading, description, the timeline's reported line
    assert page.startswith("<!doctype html>") and "<svg" in page  # the durations chart
    markdown = (report.folder / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"# Post-incident report {incident.id}: {HOSTILE}\n")
    assert f"\n{HOSTILE}\n\n{HOSTILE}\n" in markdown  # the summary, then the description


def test_drill_record_escapes_what_people_typed_in_the_html() -> None:
    with session_scope() as session:
        incident = incidents.open_incident(
            session,
            IncidentType.data_breach,
            make_report(IncidentType.data_breach, summary=HOSTILE),
            drill=True,
        )
    scores = pd.DataFrame([{"kind": "stage", "name": "report", "result": "met"}])
    card = Scorecard(scores, gaps=[HOSTILE], follow_ups=[("ciso", HOSTILE)], participants=["ciso"])
    record = drill_audit.write_record(get_plan(), incident, card, get_settings().reports_dir)

    page = (record.folder / "drill-record.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    assert "<script>" not in page and "<b>" not in page
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    assert page.count(escaped) == 3  # the summary row, the gap, the follow-up
    markdown = (record.folder / "drill-record.md").read_text(encoding="utf-8")
    assert f"| Summary | {HOSTILE} |" in markdown and f"\n- {HOSTILE}\n" in markdown
    assert "Targets met | 1 of 1" in markdown
