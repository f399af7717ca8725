"""The post-incident report's templates: what people typed is text in report.html, never markup."""

from __future__ import annotations

from irp import incidents, reporting
from irp.db import session_scope
from irp.plan import get_plan
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
