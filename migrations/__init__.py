"""irp's Alembic migrations (versions/), run by `irp.db.migrate`."""

HEADS = frozenset({"0004", "0005_webhook", "0006_timeline_chain", "0011_duties_report_parts"})
"""The revisions (one per branch) a database at this code's latest schema holds: a process that finds exactly
these skips Alembic (its import and script scan cost a new flow-run process ~0.15 s before
Running). tests/irp/test_schema_heads.py checks this against the scripts, so a new migration
that forgets it fails there."""
