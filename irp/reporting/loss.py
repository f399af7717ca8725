"""Loss assessment (DOMAIN.md model): every part shows its inputs and where each came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models import Incident
from models.base import utcnow
from models.plan import LossInput, LossModel

MINUTES_PER_MONTH = 30 * 24 * 60


@dataclass(frozen=True)
class Input:
    name: str
    value: float
    source: str


@dataclass
class LossPart:
    name: str
    formula: str
    amount: float | None = None
    low: float | None = None
    high: float | None = None
    inputs: list[Input] = field(default_factory=list)
    note: str = ""

    @property
    def display(self) -> str:
        if self.amount is not None:
            return f"{self.amount:,.0f}"
        return f"{self.low:,.0f} - {self.high:,.0f}"


def _plan(name: str, item: LossInput) -> Input:
    return Input(name, item.value, f"plan loss_model.{name}: {item.source}")


def _fact(incident: Incident, name: str, default: float = 0) -> Input:
    value = incident.facts.get(name)
    if value in (None, 0) and default:
        return Input(name, default, "assumed (not reported)")
    return Input(name, float(value or 0), "incident report")


def assess(
    incident: Incident, model: LossModel, people_hours: float, *, now: datetime | None = None
) -> list[LossPart]:
    """Downtime, breach, response, regulatory caps and a reputation range."""
    outage = _fact(incident, "outage_minutes")
    if outage.value == 0 and incident.resolved_at is not None and incident.type == "system_failure":
        minutes = (incident.resolved_at - incident.detected_at).total_seconds() / 60
        outage = Input("outage_minutes", round(minutes, 1), "timeline: detected to resolved")
    share = _fact(incident, "share_of_traffic_affected", default=1.0 if outage.value else 0)
    gmv, margin = _plan("gmv_per_minute", model.gmv_per_minute), _plan("margin", model.margin)
    recovered, sla = (
        _plan("share_recovered_later", model.share_recovered_later),
        _plan("sla_credits", model.sla_credits),
    )
    downtime = LossPart(
        "Downtime",
        "GMV/min x outage min x share affected x (1 - share recovered) x margin + SLA credits",
        amount=gmv.value * outage.value * share.value * (1 - recovered.value) * margin.value
        + sla.value,
        inputs=[gmv, outage, share, recovered, margin, sla],
    )
    records = _fact(incident, "records_affected")
    cap = _plan("record_scaling_cap", model.record_scaling_cap)
    per_record = _plan("cost_per_record", model.cost_per_record)
    fixed = _plan("breach_fixed_costs", model.breach_fixed_costs)
    breach = LossPart(
        "Data breach",
        "min(records, cap) x cost per record + fixed costs (only when records were exposed)",
        amount=(min(records.value, cap.value) * per_record.value + fixed.value)
        if records.value
        else 0,
        inputs=[records, cap, per_record, fixed],
        note="not scaled linearly past the cap" if records.value > cap.value else "",
    )
    hours = Input("people_hours", round(people_hours, 2), "timeline x people reserved")
    rate = _plan("loaded_hourly_rate", model.loaded_hourly_rate)
    retainer = _plan("external_retainer", model.external_retainer)
    response = LossPart(
        "Response effort",
        "people-hours x loaded rate + external retainers",
        amount=hours.value * rate.value + retainer.value,
        inputs=[hours, rate, retainer],
    )
    personal = bool(incident.facts.get("data_categories")) or records.value > 0
    caps = [_plan("pipl_cap", model.pipl_cap)] if personal else []
    if incident.facts.get("gdpr_subjects"):
        caps.append(_plan("gdpr_cap", model.gdpr_cap))
    regulatory = LossPart(
        "Regulatory exposure (caps, not predictions)",
        "largest applicable statutory cap",
        low=0,
        high=max((c.value for c in caps), default=0),
        inputs=caps,
        note="" if caps else "no personal data reported: no statutory cap applies",
    )
    month_margin = gmv.value * MINUTES_PER_MONTH * margin.value
    low, high = (
        _plan("churn_low_share", model.churn_low_share),
        _plan("churn_high_share", model.churn_high_share),
    )
    reputation = LossPart(
        "Reputation and churn (a range)",
        "churn share x a month's margin (GMV/min x 43,200 x margin)",
        low=low.value * month_margin,
        high=high.value * month_margin,
        inputs=[low, high, gmv, margin],
    )
    return [downtime, breach, response, regulatory, reputation]


def people_hours(incident: Incident, people: int, *, now: datetime | None = None) -> float:
    """Responders engaged x hours from detection to resolution (or now)."""
    end = incident.resolved_at or incident.closed_at or now or utcnow()
    return max(people, 1) * max((end - incident.detected_at).total_seconds(), 0) / 3600
