"""Templates: each audience's words, regulator fields filled or clearly marked unknown."""

from __future__ import annotations

from pathlib import Path

from irp.db import session_scope
from irp.incidents import service as incidents
from irp.notify import clocks, routing
from irp.notify.service import context, redactor_for
from irp.notify.templates import render, tbc
from irp.plan.loader import get_plan
from models.enums import NationalGrade
from tests.notify.helpers import open_breach, routed_plan


def _render(plan_file: Path, incident_id: str, kind: str, event: str = "plan_activated") -> str:
    plan = get_plan(plan_file)
    with session_scope() as session:
        incident = incidents.get_incident(session, incident_id)
        clocks.start_clocks(session, incident, plan)
        ctx = context(session, incident, plan, event, {"report_path": "/r/report.md"})
        return render(kind, ctx, "legal", redactor_for(plan)).body  # type: ignore[arg-type]


def test_regulator_draft_fills_known_fields_and_marks_unknown_ones(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None, contact="privacy@shop.example (hotline 400-000)")
    incident_id = open_breach(
        plan_file,
        data_categories=["email", "phone"],
        leak_vector="misconfigured bucket",
        people_affected=1_200_000,
        service="member-center",
    )
    with session_scope() as session:
        incidents.get_incident(session, incident_id).national_grade = NationalGrade.III

    body = _render(plan_file, incident_id, "regulator_draft")

    assert "== Draft to Provincial cyberspace office" in body
    assert "System affected: member-center" in body
    assert "Grade: national grade III" in body
    assert "Impact: about 1200000 users affected" in body
    assert f"Reporting unit: {tbc('reporting unit')}" in body
    assert "Data types involved: email, phone" in body
    assert "Cause: misconfigured bucket" in body
    assert f"Possible harm: {tbc('possible harm')}" in body
    assert "Contact: p***@shop.example" in body  # the contact is redacted too
    assert f"irp clocks stop {incident_id} cac" in body


def test_customer_notice_is_a_draft_with_placeholders(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = open_breach(plan_file)

    body = _render(plan_file, incident_id, "customer_notice")

    assert "DRAFT - legal approves" in body
    assert tbc("data involved") in body and tbc("contact point") in body


def test_event_lines_carry_the_report_path(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    incident_id = open_breach(plan_file)

    body = _render(plan_file, incident_id, "leadership", event="report_ready")

    assert "Report: /r/report.md" in body
    assert "Regulatory clocks:" in body and "pipl (" in body


def test_a_role_uses_its_groups_template(tmp_path: Path) -> None:
    plan_file, _ = routed_plan(tmp_path, None)
    plan = get_plan(plan_file)

    assert routing.template_for(plan, "legal_counsel") == "regulator_draft"
    assert routing.template_for(plan, "cio") == "leadership"
    assert routing.audiences(plan, "gate_waiting", ["cio", "cio", "ciso"]) == ["cio", "ciso"]
