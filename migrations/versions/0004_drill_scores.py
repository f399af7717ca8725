"""drill scorecard lines (issue 4)

Revision ID: 0004
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drill_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=20), nullable=False),
        sa.Column("scenario", sa.String(length=60), nullable=False),
        sa.Column("incident_type", sa.String(length=40), nullable=False),
        sa.Column("held_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("target_s", sa.Float(), nullable=True),
        sa.Column("actual_s", sa.Float(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("drill_score", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drill_score_incident_id"), ["incident_id"])
        batch_op.create_index(batch_op.f("ix_drill_score_scenario"), ["scenario"])
        batch_op.create_index(batch_op.f("ix_drill_score_held_at"), ["held_at"])


def downgrade() -> None:
    with op.batch_alter_table("drill_score", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drill_score_held_at"))
        batch_op.drop_index(batch_op.f("ix_drill_score_scenario"))
        batch_op.drop_index(batch_op.f("ix_drill_score_incident_id"))
    op.drop_table("drill_score")
