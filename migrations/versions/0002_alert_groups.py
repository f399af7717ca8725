"""open incident groups for alert grouping (issue 3)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open_incident_group",
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("incident_id", sa.String(length=20), nullable=False),
        sa.Column("opened_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("group_key"),
    )
    with op.batch_alter_table("open_incident_group", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_open_incident_group_incident_id"), ["incident_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("open_incident_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open_incident_group_incident_id"))
    op.drop_table("open_incident_group")
