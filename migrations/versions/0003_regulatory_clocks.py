"""regulatory clocks (issue 5)

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.base

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "regulatory_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("authority", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("window_minutes", sa.Float(), nullable=False),
        sa.Column("started_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminders_sent", sa.JSON(), nullable=False),
        sa.Column("notified_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("notified_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("recorded_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "rule", name="uq_clock_incident_rule"),
    )
    with op.batch_alter_table("regulatory_clock", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_regulatory_clock_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_regulatory_clock_deadline_at"), ["deadline_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("regulatory_clock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regulatory_clock_deadline_at"))
        batch_op.drop_index(batch_op.f("ix_regulatory_clock_incident_id"))
    op.drop_table("regulatory_clock")
