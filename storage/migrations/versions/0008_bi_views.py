"""SQL views for BI tools: vigil_resources, vigil_findings, vigil_changes, vigil_scope_runs

Revision ID: 0008
Revises: 0007

A stable, documented surface (docs/sql.md) over tables that may change: plain columns, JSON as
text on both engines. A later migration that changes a table recreates the views it touches.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VIEWS = ("vigil_resources", "vigil_findings", "vigil_changes", "vigil_scope_runs")


def _json(column: str, postgresql: bool) -> str:
    return f"CAST({column} AS TEXT)" if postgresql else column


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(
        f"""
        CREATE VIEW vigil_resources AS
        SELECT r.uid, r.source, r.provider, r.account, r.region, r.type, r.native_id, r.name,
               r.state, {_json("r.tags", postgresql)} AS tags,
               {_json("r.attributes", postgresql)} AS attributes, r.first_seen,
               CASE WHEN r.state = 'present' AND c.last_complete > r.last_seen
                    THEN c.last_complete ELSE r.last_seen END AS last_seen
        FROM resources r
        LEFT JOIN (
            SELECT scope_key, MAX(finished_at) AS last_complete
            FROM scope_runs WHERE status = 'complete' GROUP BY scope_key
        ) c ON c.scope_key = r.scope_key
        """
    )
    op.execute(
        """
        CREATE VIEW vigil_findings AS
        SELECT fingerprint, rule, severity, status, title, resource_uid, native_id, type,
               source, region, first_seen, last_seen, resolved_at, resolution
        FROM findings
        """
    )
    op.execute(
        f"""
        CREATE VIEW vigil_changes AS
        SELECT uid, kind, {_json("changes", postgresql)} AS changes, at
        FROM change_events
        """
    )
    op.execute(
        """
        CREATE VIEW vigil_scope_runs AS
        SELECT id, scope_key, source, provider, account, region, type, status, error,
               started_at, finished_at, duration_seconds, seen, created, changed, deleted
        FROM scope_runs
        """
    )


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
