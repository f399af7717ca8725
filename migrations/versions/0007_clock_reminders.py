"""clock reminders claimed once across hosts (issue 14)

Revision ID: 0007_clock_reminder
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0007_clock_reminder"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clock_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clock_id", sa.Integer(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("claimed_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["clock_id"], ["regulatory_clock.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("clock_id", "share", name="uq_clock_reminder_share"),
    )
    with op.batch_alter_table("clock_reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clock_reminder_clock_id"), ["clock_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clock_reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clock_reminder_clock_id"))
    op.drop_table("clock_reminder")
