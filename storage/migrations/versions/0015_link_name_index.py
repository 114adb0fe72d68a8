"""resource_links: a partial index of the pending references; resource_names, filled

Reconcile resolves only the pending references a run could have made resolvable (the ones it
staged, the names of what it created, changed or deleted): the partial index finds those
links by name without reading every link, and resource_names finds the resources answering
a DNS name without reading every load balancer and CDN.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_PENDING = "to_uid IS NULL AND deleted_at IS NULL"  # frozen: storage.tables.PENDING_LINKS
_NAMED_BY = {"load_balancer": ("dns_name",), "cdn": ("domain_name",)}  # frozen: core.model


def upgrade() -> None:
    op.create_index(
        "ix_resource_links_pending",
        "resource_links",
        ["target"],
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )
    names = op.create_table(
        "resource_names",
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("uid", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("ref", "uid"),
    )
    op.create_index("ix_resource_names_uid", "resource_names", ["uid"])
    resources = sa.table("resources", sa.column("uid"), sa.column("type"), sa.column("attributes"))
    rows = op.get_bind().execute(
        sa.select(resources.c.uid, resources.c.type, resources.c.attributes).where(
            resources.c.type.in_(list(_NAMED_BY))
        )
    )
    held = set()
    for uid, type_, attributes in rows:
        if isinstance(attributes, str):
            attributes = json.loads(attributes)
        for key in _NAMED_BY[type_]:
            value = (attributes or {}).get(key)
            if isinstance(value, str) and value:  # frozen: core.model.dns_ref
                held.add(("dns:" + value.strip().rstrip(".").lower(), uid))
    if held:
        op.bulk_insert(names, [{"ref": ref, "uid": uid} for ref, uid in sorted(held)])


def downgrade() -> None:
    op.drop_index("ix_resource_names_uid", table_name="resource_names")
    op.drop_table("resource_names")
    op.drop_index("ix_resource_links_pending", table_name="resource_links")
