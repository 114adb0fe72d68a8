"""findings: how a finding resolved (resolution) and the params its rule judged it with

Revision ID: 0005
Revises: 0004

`resolution` is one of fixed, deleted, retired, rule_disabled once a finding resolved (null
while open or silenced); findings resolved before this revision resolved as fixed.
`params_hash` is the digest of the rule's params when the finding was last produced: a check
with other params resolves what the rule no longer finds as rule_disabled, not fixed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("resolution", sa.String(), nullable=True))
        batch.add_column(sa.Column("params_hash", sa.String(), nullable=True))
    op.execute("UPDATE findings SET resolution = 'fixed' WHERE status = 'resolved'")


def downgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("params_hash")
        batch.drop_column("resolution")
