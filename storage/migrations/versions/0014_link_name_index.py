"""resource_links: a partial index of the pending references by target

Reconcile resolves only the pending references a run could have made resolvable (the ones it
staged, the names of what it created, changed or deleted); this index finds them by name
without reading every link.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_PENDING = "to_uid IS NULL AND deleted_at IS NULL"  # frozen: storage.tables.PENDING_LINKS


def upgrade() -> None:
    op.create_index(
        "ix_resource_links_pending",
        "resource_links",
        ["target"],
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_resource_links_pending", table_name="resource_links")
