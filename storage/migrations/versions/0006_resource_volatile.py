"""resource_volatile: the newest observed value of each resource's volatile attributes

Revision ID: 0006
Revises: 0005

One row per resource that has volatile attributes (RDS `latest_restorable_time`, a host's
`uptime_seconds`), rewritten by every completed scan of its scope; readers merge `values` over
`resources.attributes`. Existing databases start with an empty table: until the next completed
scan, readers show the value stored with the resource, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_volatile",
        sa.Column("uid", sa.String(), nullable=False),
        sa.Column("values", storage.tables.JSONType, nullable=False),
        sa.Column("observed_at", storage.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uid"),
    )


def downgrade() -> None:
    op.drop_table("resource_volatile")
