"""resource_volatile: the newest value of each resource's volatile attributes

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.tables

revision = "0006"
# 0005 (retirement) is written in parallel; the lead re-chains this onto it at merge.
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_volatile",
        sa.Column("uid", sa.String(), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("observed_at", storage.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uid"),
    )


def downgrade() -> None:
    op.drop_table("resource_volatile")
