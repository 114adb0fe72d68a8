"""resource links (with their lifetimes), their staging, and the vigil_links view

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_uid", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("to_uid", sa.String(), nullable=True),
        sa.Column("scope_key", sa.String(), nullable=False),
        sa.Column("first_seen", storage.tables.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", storage.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_resource_links_from_uid", "resource_links", ["from_uid"])
    op.create_index("ix_resource_links_to_uid", "resource_links", ["to_uid"])
    op.create_index("ix_resource_links_scope", "resource_links", ["scope_key", "deleted_at"])
    op.create_table(
        "staged_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("from_uid", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staged_links_run_id", "staged_links", ["run_id"])
    # The BI view (docs/sql.md): present links; an unresolved one has to_uid NULL.
    op.execute(
        """
        CREATE VIEW vigil_links AS
        SELECT from_uid, kind, to_uid, target
        FROM resource_links WHERE deleted_at IS NULL
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS vigil_links")
    op.drop_index("ix_staged_links_run_id", table_name="staged_links")
    op.drop_table("staged_links")
    op.drop_index("ix_resource_links_scope", table_name="resource_links")
    op.drop_index("ix_resource_links_to_uid", table_name="resource_links")
    op.drop_index("ix_resource_links_from_uid", table_name="resource_links")
    op.drop_table("resource_links")
