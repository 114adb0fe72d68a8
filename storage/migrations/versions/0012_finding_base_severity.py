"""findings.base_severity: the rule's severity when the effective one was escalated

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null means "the same as severity": every finding stored before escalation existed.
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("base_severity", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("base_severity")
