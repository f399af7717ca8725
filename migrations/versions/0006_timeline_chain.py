"""the timeline chained and append-only (issue 12)

Existing events are chained in insertion order, then UPDATE and DELETE are refused by
triggers on both databases.

Revision ID: 0006_timeline_chain
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base
from models.timeline import GENESIS, chain_hash

revision: str = "0006_timeline_chain"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE_PG = """
CREATE FUNCTION irp_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'timeline_event is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.add_column(
        "timeline_event",
        sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default=GENESIS),
    )
    op.add_column(
        "timeline_event",
        sa.Column("hash", sa.String(length=64), nullable=False, server_default=GENESIS),
    )
    _chain_existing_events()
    op.create_index(
        "uq_timeline_chain", "timeline_event", ["incident_id", "prev_hash"], unique=True
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_REFUSE_PG)
        op.execute(
            "CREATE TRIGGER timeline_event_append_only BEFORE UPDATE OR DELETE ON timeline_event"
            " FOR EACH ROW EXECUTE FUNCTION irp_timeline_append_only()"
        )
        op.execute(
            "CREATE TRIGGER timeline_event_no_truncate BEFORE TRUNCATE ON timeline_event"
            " FOR EACH STATEMENT EXECUTE FUNCTION irp_timeline_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER timeline_event_no_{operation.lower()} BEFORE {operation}"
                " ON timeline_event BEGIN"
                f" SELECT RAISE(ABORT, 'timeline_event is append-only: {operation} refused');"
                " END"
            )


def _chain_existing_events() -> None:
    events = sa.table(
        "timeline_event",
        sa.column("id", sa.Integer()),
        sa.column("incident_id", sa.String()),
        sa.column("at", models.base.UTCDateTime()),
        sa.column("stage", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("actor", sa.String()),
        sa.column("message", sa.String()),
        sa.column("data", sa.JSON()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    heads: dict[str, str] = {}
    for row in bind.execute(sa.select(events).order_by(events.c.id)).mappings():
        prev = heads.get(row["incident_id"], GENESIS)
        content = {
            "incident_id": row["incident_id"],
            "at": row["at"].isoformat(),
            "stage": row["stage"],
            "kind": row["kind"],
            "actor": row["actor"],
            "message": row["message"],
            "data": row["data"],
        }
        heads[row["incident_id"]] = link = chain_hash(prev, content)
        bind.execute(
            events.update().where(events.c.id == row["id"]).values(prev_hash=prev, hash=link)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER timeline_event_no_truncate ON timeline_event")
        op.execute("DROP TRIGGER timeline_event_append_only ON timeline_event")
        op.execute("DROP FUNCTION irp_timeline_append_only()")
    else:
        op.execute("DROP TRIGGER timeline_event_no_update")
        op.execute("DROP TRIGGER timeline_event_no_delete")
    op.drop_index("uq_timeline_chain", table_name="timeline_event")
    with op.batch_alter_table("timeline_event", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
