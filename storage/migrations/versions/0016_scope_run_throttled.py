"""scope_runs.throttled: the throttling answers a scope run received; in vigil_scope_runs too

Shown per scope by `vigil collect`, whichever executor ran the scope (a queue worker records
it in the run, the pass reads it back). The BI view gains the column: replaced in place on
PostgreSQL, so the grants given to a BI role stay (docs/sql.md); dropped and created again on
SQLite, which has no CREATE OR REPLACE and rebuilds the table on downgrade, which a view
naming it would break.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_COLUMNS = (  # frozen: 0008's vigil_scope_runs
    "id, scope_key, source, provider, account, region, type, status, error, "
    "started_at, finished_at, duration_seconds, seen, created, changed, deleted"
)


def _view(columns: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE OR REPLACE VIEW vigil_scope_runs AS SELECT {columns} FROM scope_runs")
        return
    op.execute("DROP VIEW IF EXISTS vigil_scope_runs")
    op.execute(f"CREATE VIEW vigil_scope_runs AS SELECT {columns} FROM scope_runs")


def upgrade() -> None:
    with op.batch_alter_table("scope_runs") as batch:
        batch.add_column(sa.Column("throttled", sa.Integer(), nullable=False, server_default="0"))
    _view(f"{_COLUMNS}, throttled")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS vigil_scope_runs")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # the rebuilt table's rename must not check vigil_resources, which joins it
        op.execute("PRAGMA legacy_alter_table = ON")
    with op.batch_alter_table("scope_runs") as batch:
        batch.drop_column("throttled")
    if sqlite:
        op.execute("PRAGMA legacy_alter_table = OFF")
    _view(_COLUMNS)
