"""Headline counts of the inventory and changes, aggregated in SQL.

Streaming 100k resources only to count them decodes every tags and attributes JSON column;
the database counts in a fraction of the time. The inventory replay mirrors
`storage.queries.inventory(as_of=...)`: a resource's newest change event at or before the
report time says whether it was present then.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import sqlalchemy as sa

from storage.db import Database
from storage.queries import events
from vigil.core.model import GONE_KINDS


def inventory_counts(
    db: Database, at: datetime, sources: tuple[str, ...] = ()
) -> dict[str, Counter[str]]:
    """Present resources at `at`, counted by type, account, region and source."""
    latest = sa.select(sa.func.max(events.c.id).label("id")).where(events.c.at <= at)
    if sources:
        latest = latest.where(events.c.source.in_(sources))
    newest = latest.group_by(events.c.uid).subquery("newest")
    columns = (events.c.type, events.c.account, events.c.region, events.c.source)
    query = (
        sa.select(*columns, sa.func.count().label("n"))
        .select_from(events.join(newest, newest.c.id == events.c.id))
        .where(events.c.kind.not_in(GONE_KINDS))
        .group_by(*columns)
    )
    keys = ("type", "account", "region", "source")
    counts: dict[str, Counter[str]] = {key: Counter() for key in keys}
    with db.connect() as conn:
        for row in conn.execute(query):
            for key in counts:
                counts[key][getattr(row, key)] += row.n
    return counts


def change_counts(
    db: Database, since: datetime, until: datetime, sources: tuple[str, ...] = ()
) -> Counter[str]:
    """Change events in [since, until], by kind."""
    query = (
        sa.select(events.c.kind, sa.func.count().label("n"))
        .where(events.c.at >= since, events.c.at <= until)
        .group_by(events.c.kind)
    )
    if sources:
        query = query.where(events.c.source.in_(sources))
    with db.connect() as conn:
        return Counter({row.kind: row.n for row in conn.execute(query)})
