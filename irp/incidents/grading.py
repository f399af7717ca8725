"""Priority (P1-P4) and national grade (I-IV) from the plan's criteria (DOMAIN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.enums import NationalGrade, Priority
from models.plan import Condition, Grading


@dataclass(frozen=True)
class GradingResult:
    national_grade: NationalGrade
    priority: Priority
    reasons: list[str]


def derive_facts(facts: dict[str, Any], grading: Grading) -> dict[str, Any]:
    """Add the facts the rules test that a reporter does not state directly."""
    derived = dict(facts)
    categories = {str(c).lower() for c in facts.get("data_categories") or []}
    sensitive = bool(categories & {c.lower() for c in grading.sensitive_data_categories})
    people = int(facts.get("people_affected") or 0)
    records = int(facts.get("records_affected") or 0)
    derived["sensitive_data"] = sensitive
    derived["personal_data"] = bool(categories) or records > 0
    derived["sensitive_people_affected"] = max(people, records) if sensitive else 0
    if facts.get("payment_down"):
        derived["payment_down_minutes"] = float(facts.get("outage_minutes") or 0)
    return derived


def _explain(condition: Condition) -> str:
    if condition.gte is not None:
        return f"{condition.fact} >= {condition.gte:g}"
    if condition.eq is not None:
        return f"{condition.fact} = {condition.eq}"
    return f"{condition.fact} is {condition.is_true}"


def grade(facts: dict[str, Any], grading: Grading) -> GradingResult:
    """First matching rule wins, national grade before priority (priority tests the grade)."""
    derived = derive_facts(facts, grading)
    reasons: list[str] = []
    national = grading.default_grade
    for rule in grading.national_grade:
        hit = next((c for c in rule.any if c.holds(derived)), None)
        if hit is not None:
            national = rule.grade
            reasons.append(f"grade {national.value}: {_explain(hit)} ({rule.source})")
            break
    else:
        reasons.append(f"grade {national.value}: no rule matched (plan default)")
    derived["national_grade_rank"] = national.rank
    priority = grading.default_priority
    for prule in grading.priority:
        hit = next((c for c in prule.any if c.holds(derived)), None)
        if hit is not None:
            priority = prule.priority
            reasons.append(f"priority {priority.value}: {_explain(hit)} ({prule.source})")
            break
    else:
        reasons.append(f"priority {priority.value}: no rule matched (plan default)")
    return GradingResult(national_grade=national, priority=priority, reasons=reasons)
