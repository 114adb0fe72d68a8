"""scope_runs.throttled: the throttling answers a scope run received

Shown per scope by `vigil collect`, whichever executor ran the scope (a queue worker records
it in the run, the pass reads it back).

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


def upgrade() -> None:
    with op.batch_alter_table("scope_runs") as batch:
        batch.add_column(sa.Column("throttled", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("scope_runs") as batch:
        batch.drop_column("throttled")
