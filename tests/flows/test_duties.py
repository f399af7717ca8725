"""PLAN 4.5 and 4.6 on a real Prefect server: each acting group signs off its own cleanup and
leadership last; each writes its part of the report; leadership accepts or sends it back."""

from __future__ import annotations

import pytest
from sqlmodel import select

from flows.registry import FLOWS
from irp.cli.main import main
from irp.db import session_scope
from irp.duties import report_parts
from irp.gates import service as gates
from irp.incidents import timeline
from irp.settings import get_settings
from models import Incident, ReportPart
from models.enums import IncidentStatus, IncidentType
from tests.factories import breach_with_evidence, make_intake
from tests.flows.answerer import Answer, Answerer, Part

pytestmark = pytest.mark.usefixtures("prefect_api")

SIGNOFFS = [
    Answer("signoff_technical", "approve", "sysadmin"),
    Answer("signoff_customer_service", "approve", "cs_manager"),
    Answer("signoff_legal", "approve", "legal_counsel"),
    Answer("signoff", "approve", "ciso"),
]
PARTS = [
    Part("technical", "it_manager", lessons="Call 13812345678 sooner"),
    Part("customer_service", "cs_agent"),
    Part("legal", "legal_manager"),
]


def test_groups_sign_off_then_leadership_write_parts_and_a_rejected_report_is_revised() -> None:
    answers = [
        Answer("activation", "approve", "cio"),
        Answer("user_notice", "approve", "legal_counsel"),
        *SIGNOFFS,
        *PARTS,
        Answer("report_acceptance", "reject", "cio", comment="legal part too thin"),
        Part("technical", "security_engineer", did="Revoked keys, patched the endpoint"),
        Part("customer_service", "cs_manager"),
        Part("legal", "legal_counsel", did="Assessed liability in depth"),
        Answer("report_acceptance_rev2", "approve", "ciso"),
    ]
    with Answerer(answers, deadline_s=120) as answerer:
        incident_id = FLOWS[IncidentType.data_breach](incident_id=breach_with_evidence())
    assert answerer.errors == [] and set(answerer.exit_codes) == {0}

    with session_scope() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.status == IncidentStatus.closed
        decided = [
            (d.gate, d.approver_role, d.outcome) for d in gates.decisions(session, incident_id)
        ]
        kinds = [e.kind for e in timeline.events(session, incident_id)]
        written = list(
            session.exec(select(ReportPart).where(ReportPart.incident_id == incident_id))
        )
    assert decided == [
        ("activation", "cio", "proceed"),
        ("user_notice", "legal_counsel", "proceed"),
        ("signoff_technical", "sysadmin", "proceed"),
        ("signoff_customer_service", "cs_manager", "proceed"),
        ("signoff_legal", "legal_counsel", "proceed"),
        ("signoff", "ciso", "proceed"),  # leadership last; logistics did nothing: not asked
        ("report_acceptance", "cio", "reject"),
        ("report_acceptance_rev2", "ciso", "proceed"),
    ]
    assert kinds.count("report_sent_back") == 1
    assert sorted((p.group, p.revision) for p in written) == [
        ("customer_service", 1),
        ("customer_service", 2),
        ("legal", 1),
        ("legal", 2),
        ("technical", 1),
        ("technical", 2),
    ]
    assert not any(p.by_drill_policy for p in written)
    markdown = (get_settings().reports_dir / incident_id / "report.md").read_text("utf-8")
    parts_table = markdown.split("### The groups' parts", 1)[1].split("###", 1)[0]
    assert "Assessed liability in depth" in parts_table  # the revised part, not the first
    assert "| legal | 2 | legal_counsel |" in parts_table
    assert "Revoked keys, patched the endpoint" in parts_table


def test_a_part_by_someone_outside_the_group_is_refused_with_the_field_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    answers = [
        Answer("activation", "approve", "cio"),
        Answer("user_notice", "approve", "legal_counsel"),
        Answer("signoff_technical", "approve", "cs_agent"),  # not technical's: refused, exit 2
        *SIGNOFFS,
        Part("technical", "cs_agent"),  # not technical's: refused, exit 2
        Part("legal", "legal_manager", lessons="Mail li.lei@example.com first"),
        *PARTS[:2],
        Answer("report_acceptance", "approve", "cio"),
    ]
    with Answerer(answers, deadline_s=120) as answerer:
        incident_id = FLOWS[IncidentType.data_breach](incident_id=breach_with_evidence())
    assert answerer.errors == [] and answerer.exit_codes.count(2) == 2
    assert "--by: 'cs_agent' is not in group 'technical'" in capsys.readouterr().err
    late = ["report-part", incident_id, "--group", "legal", "--by", "legal_manager"]
    late += ["--did", "x", "--cause", "y", "--lessons", "z"]
    assert main(late) == 1  # nothing is due now: the incident is closed
    assert f"incident {incident_id} is not waiting for report parts" in capsys.readouterr().err
    markdown = (get_settings().reports_dir / incident_id / "report.md").read_text("utf-8")
    assert "li.lei@example.com" not in markdown and "13812345678" not in markdown


def test_a_drill_signs_off_and_writes_parts_by_its_policy_marked_as_such() -> None:
    incident_id = FLOWS[IncidentType.network_attack](
        intake=make_intake(IncidentType.network_attack), drill=True, auto_approve=True
    )
    with session_scope() as session:
        gates_asked = [d.gate for d in gates.decisions(session, incident_id)]
        written = report_parts.latest_parts(session, incident_id)
    signoffs = [g for g in gates_asked if g.startswith("signoff")]
    assert signoffs[-1] == "signoff" and len(signoffs) >= 2
    assert "signoff_leadership" not in signoffs and "signoff_logistics" not in signoffs
    assert gates_asked[-1] == "report_acceptance"
    assert written and all(p.by_drill_policy and p.author == "drill-policy" for p in written)
    markdown = (get_settings().reports_dir / incident_id / "report.md").read_text("utf-8")
    assert "drill-policy (drill policy, no person)" in markdown
