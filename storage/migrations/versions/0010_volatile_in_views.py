"""vigil_resources shows each resource's newest observed volatile values in `attributes`

Revision ID: 0010
Revises: 0008

The view merges `resource_volatile.values` over `resources.attributes`, as `vigil inventory`
does, so a BI query reads RDS `latest_restorable_time` as of the last completed scan. On SQLite
the merge is JSON Merge Patch: an observed JSON null removes the key (reads as NULL either way).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def _attributes(postgresql: bool, merged: bool) -> str:
    if not merged:
        return "CAST(r.attributes AS TEXT)" if postgresql else "r.attributes"
    if postgresql:
        return """CAST(r.attributes || COALESCE(v."values", '{}'::jsonb) AS TEXT)"""
    return """CASE WHEN v.uid IS NULL THEN r.attributes
                    ELSE json_patch(r.attributes, v."values") END"""


def _create(merged: bool) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    tags = "CAST(r.tags AS TEXT)" if postgresql else "r.tags"
    join = "LEFT JOIN resource_volatile v ON v.uid = r.uid" if merged else ""
    op.execute("DROP VIEW IF EXISTS vigil_resources")
    op.execute(
        f"""
        CREATE VIEW vigil_resources AS
        SELECT r.uid, r.source, r.provider, r.account, r.region, r.type, r.native_id, r.name,
               r.state, {tags} AS tags, {_attributes(postgresql, merged)} AS attributes,
               r.first_seen,
               CASE WHEN r.state = 'present' AND c.last_complete > r.last_seen
                    THEN c.last_complete ELSE r.last_seen END AS last_seen
        FROM resources r
        LEFT JOIN (
            SELECT scope_key, MAX(finished_at) AS last_complete
            FROM scope_runs WHERE status = 'complete' GROUP BY scope_key
        ) c ON c.scope_key = r.scope_key
        {join}
        """
    )


def upgrade() -> None:
    # 0006 was chained in before 0007 after databases had reached 0008 without it: create its
    # table here too when an upgrade skipped it.
    if not sa.inspect(op.get_bind()).has_table("resource_volatile"):
        op.create_table(
            "resource_volatile",
            sa.Column("uid", sa.String(), nullable=False),
            sa.Column("values", storage.tables.JSONType, nullable=False),
            sa.Column("observed_at", storage.tables.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("uid"),
        )
    _create(merged=True)


def downgrade() -> None:
    _create(merged=False)
