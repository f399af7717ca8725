"""manual tasks: work for people (issue 11)

Revision ID: 0010_tasks_manual_task
Revises: 0009_identity_codes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0010_tasks_manual_task"
down_revision: str | None = "0009_identity_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "manual_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("group", sa.String(length=60), nullable=False),
        sa.Column("owner", sa.String(length=60), nullable=True),
        sa.Column("instructions", sa.String(length=4000), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("opened_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("due_at", models.base.UTCDateTime(), nullable=False),
        sa.Column("answered_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answered_role", sa.String(length=60), nullable=True),
        sa.Column("note", sa.String(length=4000), nullable=False),
        sa.Column("evidence", sa.String(length=1000), nullable=True),
        sa.Column("reminded_at", models.base.UTCDateTime(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "key", name="uq_manual_task_incident_key"),
    )
    with op.batch_alter_table("manual_task", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_manual_task_incident_id"), ["incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("manual_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manual_task_incident_id"))
    op.drop_table("manual_task")
