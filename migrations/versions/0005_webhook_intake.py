"""raw alert bodies, seen Standard Webhooks message ids (issue 9)

Revision ID: 0005_webhook
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0005_webhook"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw_body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("raw_body_encoding", sa.String(length=10), nullable=True))
    op.create_table(
        "seen_webhook_message",
        sa.Column("id_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_sha256"),
    )
    with op.batch_alter_table("seen_webhook_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seen_webhook_message_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("seen_webhook_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_webhook_message_expires_at"))
    op.drop_table("seen_webhook_message")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_column("raw_body_encoding")
        batch_op.drop_column("raw_body")
