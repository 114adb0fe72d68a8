"""The job queue of `executor.kind: queue` (Procrastinate's schema, PostgreSQL only), and the
pass each scope run belongs to

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# A frozen copy of the schema Procrastinate 3.10.0 installs: a migration must mean the same
# thing whichever Procrastinate is installed when it runs. A newer Procrastinate gets a new
# migration that applies its own upgrade scripts (tests/storage/test_job_queue_schema.py
# fails until it has one).
PROCRASTINATE_SCHEMA = Path(__file__).parent.parent / "procrastinate" / "schema-3.10.0.sql"


def upgrade() -> None:
    with op.batch_alter_table("scope_runs") as batch:
        batch.add_column(sa.Column("pass_id", sa.String(), nullable=True))
    op.create_index("ix_scope_runs_pass", "scope_runs", ["pass_id", "scope_key"])
    if op.get_bind().dialect.name == "postgresql":
        # The script's `%` and `:` are SQL, not parameters: run it on the driver's cursor.
        cursor = op.get_bind().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(PROCRASTINATE_SCHEMA.read_text(encoding="utf-8"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, "
            "procrastinate_jobs, procrastinate_workers CASCADE"
        )
        op.execute(
            "DO $$ DECLARE f regprocedure; BEGIN "
            "FOR f IN SELECT oid::regprocedure FROM pg_proc WHERE proname LIKE 'procrastinate%' "
            "LOOP EXECUTE 'DROP FUNCTION ' || f || ' CASCADE'; END LOOP; END $$"
        )
        op.execute(
            "DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, "
            "procrastinate_job_status CASCADE"
        )
    op.drop_index("ix_scope_runs_pass", table_name="scope_runs")
    with op.batch_alter_table("scope_runs") as batch:
        batch.drop_column("pass_id")
