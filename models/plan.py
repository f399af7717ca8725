"""The plan as typed data (DESIGN.md principle 1). PLAN.md clause references are in `description`s."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from models.enums import IncidentType, NationalGrade, Priority, Stage
from models.plan_alerts import DEFAULT_RULES, ClassificationRule
from models.plan_drills import DrillProgram
from models.plan_duties import GROUP_SIGNOFF_PREFIX, GROUP_SIGNOFF_STAGE, GroupSignoff, ReportDuties
from models.plan_people import Person


class Strict(BaseModel):
    """Unknown keys are typos in a plan file: refuse them."""

    model_config = ConfigDict(extra="forbid")


class Role(Strict):
    title: str
    person: str = Field(description="Who holds the role (a name, not contact data).")
    group: str
    notify: list[SecretStr] = Field(default_factory=list, description="Apprise URLs (secrets).")
    people: list[str] = Field(
        default_factory=list,
        description="Person ids (organisation.people) who hold the role; none: `person` with "
        "the role's `notify` as their channels.",
    )


class Group(Strict):
    """PLAN.md section 3: a group with a leader, members and a duty."""

    title: str
    leader: str = Field(description="Role id of the group's leader.")
    deputy: str | None = None
    members: list[str] = Field(default_factory=list, description="Role ids.")
    duty: str
    notify: list[SecretStr] = Field(default_factory=list, description="Apprise URLs (secrets).")


class Organisation(Strict):
    commander: str = Field(description="Role id that commands an incident (PLAN 3.1: the CIO).")
    deputy: str = Field(
        description="Role id of the deputy commander (head of information security)."
    )
    roles: dict[str, Role]
    groups: dict[str, Group]
    people: dict[str, Person] = Field(
        default_factory=dict, description="Who may decide gates, with their own channels."
    )


class Condition(Strict):
    """A test on one incident fact; exactly one of gte, eq or is_true."""

    fact: str
    gte: float | None = None
    eq: str | int | float | None = None
    is_true: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        given = [v for v in (self.gte, self.eq, self.is_true) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of gte, eq, is_true")
        return self

    def holds(self, facts: dict[str, Any]) -> bool:
        value = facts.get(self.fact)
        if value is None:
            return False
        if self.gte is not None:
            return isinstance(value, int | float) and float(value) >= self.gte
        if self.eq is not None:
            return bool(value == self.eq)
        return bool(value) is self.is_true


class GradeRule(Strict):
    grade: NationalGrade
    any: list[Condition] = Field(min_length=1)
    source: str


class PriorityRule(Strict):
    priority: Priority
    any: list[Condition] = Field(min_length=1)
    source: str


class Grading(Strict):
    """DOMAIN.md: national grade first (it feeds priority), then priority; first match wins."""

    national_grade: list[GradeRule]
    default_grade: NationalGrade = NationalGrade.IV
    priority: list[PriorityRule]
    default_priority: Priority = Priority.P3
    sensitive_data_categories: list[str] = Field(default_factory=list)


class GatePolicy(Strict):
    title: str
    stage: Stage
    deciders: list[str] = Field(min_length=1, description="Role ids allowed to decide.")
    timeout_s: float = Field(gt=0)
    on_timeout: Literal["escalate", "proceed", "stop"]
    escalate_to: list[str] = Field(
        default_factory=list, description="Role ids asked after a timeout."
    )
    max_escalations: int = Field(default=1, ge=0)
    on_final_timeout: Literal["proceed", "stop"] = Field(
        default="stop", description="After the last escalation also times out."
    )
    question: str


LIVE_EXECUTORS = ("http", "command")
SIMULATE_FOR_REAL = (
    "Let real incidents use this `simulate` step (recorded as simulated, never done): for test "
    "and drill plans. Without it `irp plan validate` refuses a `simulate` step (issue 11)."
)
DRILL_SAFE = (
    "Run even in a drill. Otherwise a drill records what an http or command step would have "
    "sent or run, and does nothing (issue 11)."
)


class UndoSpec(Strict):
    """How a containment action is undone in cleanup, or why it stays."""

    executor: Literal["simulate", "http", "command"] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    keep: str | None = Field(default=None, description="Reason the measure stays after cleanup.")
    drill_safe: bool = Field(default=False, description=DRILL_SAFE)

    @model_validator(mode="after")
    def _undo_or_keep(self) -> UndoSpec:
        if (self.executor is None) == (self.keep is None):
            raise ValueError("give either executor (how to undo) or keep (why it stays)")
        return self


Executor = Literal["simulate", "http", "command", "manual"]
TaskNeed = Literal["note", "evidence"]


class ActionSpec(Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    group: str = Field(description="Group id that carries out the action.")
    executor: Executor = Field(
        default="simulate", description="manual: work for people, answered by the owner group."
    )
    params: dict[str, Any] = Field(default_factory=dict)
    subtypes: list[str] = Field(
        default_factory=list, description="Only for these subtypes; empty = all."
    )
    retries: int = Field(default=3, ge=0, le=10)
    retry_delay_s: float = Field(default=2.0, ge=0, description="Backoff base; doubles per retry.")
    retry_jitter: float = Field(default=0.5, ge=0, le=1)
    timeout_s: float = Field(default=120, gt=0)
    containment: bool = False
    undo: UndoSpec | None = None
    gate: str | None = Field(
        default=None, description="Gate that must approve before the action runs."
    )
    evidence: str | None = Field(default=None, description="What evidence the action preserves.")
    drill_safe: bool = Field(default=False, description=DRILL_SAFE)
    simulate_in_real_incidents: bool = Field(default=False, description=SIMULATE_FOR_REAL)
    owner: str | None = Field(
        default=None, description="manual: a role id of the group narrowing who answers."
    )
    instructions: str | None = Field(default=None, description="manual: what the owner does.")
    due_s: float = Field(default=3600, gt=0, description="manual: reminder when not answered.")
    needs: list[TaskNeed] = Field(
        default_factory=lambda: list[TaskNeed](["note"]),
        description="manual: what an answer 'done' carries.",
    )
    after: list[str] = Field(
        default_factory=list, description="manual: playbook keys answered or run first."
    )

    @model_validator(mode="after")
    def _containment_declares_undo(self) -> ActionSpec:
        if self.containment and self.undo is None:
            raise ValueError("a containment action must declare undo (executor or keep)")
        return self

    @model_validator(mode="after")
    def _manual_fields(self) -> ActionSpec:
        """Work for people says what to do; automatic steps run in playbook order."""
        if self.executor == "manual":
            if not self.instructions:
                raise ValueError("instructions: a manual task says what the owner does")
            if "note" not in self.needs:
                raise ValueError("needs: an answer always carries a note")
        else:
            for name in ("owner", "instructions", "after"):
                if getattr(self, name):
                    raise ValueError(f"{name}: only a manual task has one")
        return self

    @property
    def manual(self) -> bool:
        return self.executor == "manual"


class ResourceNeed(Strict):
    resource: str
    quantity: int = Field(ge=1)


class IncidentTypeSpec(Strict):
    title: str
    description: str
    subtypes: list[str] = Field(default_factory=list)
    requires_evidence: bool = False
    playbook: list[ActionSpec] = Field(min_length=1)
    resources: list[ResourceNeed] = Field(default_factory=list)

    def actions_for(self, subtype: str | None) -> list[ActionSpec]:
        return [a for a in self.playbook if not a.subtypes or subtype in a.subtypes]


class Contact(Strict):
    """PLAN.md section 5: an external party a notice may go to (regulator, card brand, vendor)."""

    title: str
    kind: Literal["regulator", "card_brand", "acquirer", "cloud_vendor", "security_vendor", "other"]
    notify: list[SecretStr] = Field(
        default_factory=list, description="Apprise URLs or ${VARIABLE} references (secrets)."
    )


class Resource(Strict):
    """PLAN.md section 5: an inventory line reserved for incidents and released after cleanup."""

    title: str
    kind: Literal["equipment", "capacity", "people", "tool", "contacts"]
    quantity: int = Field(ge=0)
    unit: str
    owner: str = Field(description="Group id that provides it (logistics by default).")
    contacts: dict[str, Contact] = Field(
        default_factory=dict,
        description="kind contacts: the directory; route and reminder audiences may name its ids.",
    )

    @model_validator(mode="after")
    def _directory_is_a_contact_list(self) -> Resource:
        if self.contacts and self.kind != "contacts":
            raise ValueError("contacts: only a resource of kind contacts holds a directory")
        return self


class Cleanup(Strict):
    integrity_checks: list[str] = Field(min_length=1)
    audit_checklist: list[str] = Field(min_length=1)


class DrillPolicy(Strict):
    auto_decide_after_s: float = Field(
        default=0, ge=0, description="Delay before the drill policy decides a gate."
    )
    decider: str = "drill-policy"


class LossInput(Strict):
    value: float
    source: str


class LossModel(Strict):
    """DOMAIN.md loss model inputs, each with where the number comes from."""

    currency: str = "CNY"
    gmv_per_minute: LossInput
    margin: LossInput
    share_recovered_later: LossInput
    sla_credits: LossInput
    cost_per_record: LossInput
    record_scaling_cap: LossInput
    breach_fixed_costs: LossInput
    loaded_hourly_rate: LossInput
    people_per_incident: LossInput
    external_retainer: LossInput
    pipl_cap: LossInput
    gdpr_cap: LossInput
    churn_low_share: LossInput
    churn_high_share: LossInput


class Plan(Strict):
    name: str
    version: str
    organisation: Organisation
    grading: Grading
    gates: dict[str, GatePolicy]
    incident_types: dict[IncidentType, IncidentTypeSpec]
    resources: dict[str, Resource]
    cleanup: Cleanup
    drill: DrillPolicy = Field(default_factory=DrillPolicy)
    loss_model: LossModel
    review_questions: list[str] = Field(min_length=1)
    notifications: _notify.NotificationPlan = Field(
        default_factory=lambda: _notify.NotificationPlan()
    )
    classification: list[ClassificationRule] = Field(
        default_factory=lambda: list(DEFAULT_RULES),
        description="Alert -> incident type rules, first match wins (issue 3).",
    )
    drills: DrillProgram = Field(
        default_factory=DrillProgram, description="Scheduled drills and their targets (issue 4)."
    )
    signoff: GroupSignoff = Field(
        default_factory=GroupSignoff, description="Each acting group's cleanup sign-off (4.5)."
    )
    report: ReportDuties = Field(
        default_factory=ReportDuties, description="Report parts and acceptance (PLAN 4.6)."
    )
    simulate_in_real_incidents: bool = Field(default=False, description=SIMULATE_FOR_REAL)

    def incident_type(self, incident_type: IncidentType) -> IncidentTypeSpec:
        return self.incident_types[incident_type]

    def role_person(self, role_id: str) -> str:
        return self.organisation.roles[role_id].person

    def gate_policy(self, gate: str) -> GatePolicy:
        """The policy of `gate`: the plan's own gates, each group's `signoff_<group>`, and the
        acceptance gate of each report revision."""
        if gate in self.gates:
            return self.gates[gate]
        if self.report.revision_of(gate) is not None:
            return self.gates[self.report.acceptance_gate]
        group_id = gate.removeprefix(GROUP_SIGNOFF_PREFIX)
        if gate.startswith(GROUP_SIGNOFF_PREFIX) and group_id in self.organisation.groups:
            return self._group_signoff(group_id)
        raise KeyError(gate)

    @property
    def leadership_group(self) -> str:
        """The commander's group: it signs off last and accepts the report."""
        return self.organisation.roles[self.organisation.commander].group

    def _group_signoff(self, group_id: str) -> GatePolicy:
        group = self.organisation.groups[group_id]
        by_kind: dict[str, list[str | None]] = {
            "leader": [group.leader],
            "deputy": [group.deputy],
            "members": [*group.members],
        }
        signers = [r for kind in self.signoff.signers for r in by_kind[kind] if r]
        policy = self.signoff
        escalate_to = (
            [group.leader] if policy.escalate_to == "leader" else self.gates["signoff"].deciders
        )
        return GatePolicy(
            title=policy.title.format(group=group.title),
            stage=GROUP_SIGNOFF_STAGE,
            deciders=list(dict.fromkeys(signers)),
            timeout_s=policy.timeout_s,
            on_timeout=policy.on_timeout,
            escalate_to=escalate_to,
            max_escalations=policy.max_escalations,
            on_final_timeout=policy.on_final_timeout,
            question=policy.question,
        )

    def contacts(self) -> dict[str, Contact]:
        """The contact directory: every entry of the plan's contact-list resources."""
        return {cid: c for r in self.resources.values() for cid, c in r.contacts.items()}


import models.plan_notify as _notify  # noqa: E402  (cyclic: it uses Condition from here)
