"""The plan's closing duties (PLAN 4.5, 4.6): who signs off cleanup, who writes the report.

Each group that acted in an incident signs off its own cleanup at a gate of its own, answered
by its own people; the leadership group signs last at the plan's `signoff` gate. Each of those
groups then writes its part of the post-incident report, and leadership accepts the report at
the `report_acceptance` gate.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.enums import Stage

REVISION_SUFFIX = "_rev"
"""Revision 2 of the report is accepted at `report_acceptance_rev2`, and so on."""
Signer = Literal["leader", "deputy", "members"]
ALL_SIGNERS: tuple[Signer, ...] = ("leader", "deputy", "members")
GROUP_SIGNOFF_PREFIX = "signoff_"
"""A group's sign-off gate is `signoff_<group id>` (e.g. `signoff_technical`)."""


class GroupSignoff(BaseModel):
    """The gate every acting group signs its cleanup off at (one per group, same policy)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(
        default="Sign off the cleanup of the {group}", description="{group}: the group's title."
    )
    signers: list[Signer] = Field(
        default_factory=lambda: list(ALL_SIGNERS),
        min_length=1,
        description="Which of the group's own roles may sign its cleanup off.",
    )
    timeout_s: float = Field(default=3600, gt=0)
    on_timeout: Literal["escalate", "proceed", "stop"] = "escalate"
    escalate_to: Literal["leader", "leadership"] = Field(
        default="leadership",
        description="After a timeout: the group's leader, or the deciders of the `signoff` gate.",
    )
    max_escalations: int = Field(default=1, ge=0)
    on_final_timeout: Literal["proceed", "stop"] = "stop"
    question: str = (
        "Has your group undone its measures, and are its systems and data back to normal?"
    )


class ReportDuties(BaseModel):
    """PLAN 4.6: each acting group writes its part; leadership accepts the whole report."""

    model_config = ConfigDict(extra="forbid")

    parts_timeout_s: float = Field(
        default=86400,
        gt=0,
        description="How long the groups have to write their parts; a part still missing then "
        "is reported as missing and leadership decides at the acceptance gate.",
    )
    acceptance_gate: str = Field(
        default="report_acceptance", description="The gate leadership accepts the report at."
    )
    max_revisions: int = Field(
        default=3,
        ge=0,
        description="How often a rejected report goes back to the groups; after that a "
        "rejection ends the incident as rejected.",
    )

    def gate_for(self, revision: int) -> str:
        """The gate leadership accepts `revision` at: each revision is a gate of its own, so
        a rejected one stays on record and the next is asked afresh."""
        gate = self.acceptance_gate
        return gate if revision == 1 else f"{gate}{REVISION_SUFFIX}{revision}"

    def revision_of(self, gate: str) -> int | None:
        """The revision an acceptance gate name stands for; None for any other gate."""
        if gate == self.acceptance_gate:
            return 1
        head, _, number = gate.rpartition(REVISION_SUFFIX)
        if head == self.acceptance_gate and number.isdigit() and int(number) > 1:
            return int(number)
        return None


GROUP_SIGNOFF_STAGE = Stage.cleanup
