"""each acting group's part of the post-incident report (issue 11, PLAN 4.6)

Revision ID: 0011_duties_report_parts
Revises: 0010_tasks_manual_task
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0011_duties_report_parts"
down_revision: str | None = "0010_tasks_manual_task"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "report_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", text(length=20), nullable=False),
        sa.Column("group", text(length=60), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("author", text(length=200), nullable=False),
        sa.Column("by_drill_policy", sa.Boolean(), nullable=False),
        sa.Column("did", text(length=4000), nullable=False),
        sa.Column("cause", text(length=4000), nullable=False),
        sa.Column("lessons", text(length=4000), nullable=False),
        sa.Column("written_at", models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "group", "revision", name="uq_report_part_revision"),
    )
    with op.batch_alter_table("report_part", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_part_incident_id"), ["incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("report_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_part_incident_id"))
    op.drop_table("report_part")
