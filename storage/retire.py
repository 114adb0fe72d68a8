"""Retirement: resources whose scope the whole config no longer plans leave the inventory.

Run only after a full pass whose every source was planned (never after `--source/--type`,
never after a failed plan): a scope missing from such a plan is one the config dropped.
Resources another scope of the pass returned moved to that scope, so they are never retired.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from storage.db import Database
from storage.links import end_links_from, names_of, resolve
from storage.tables import RECORD_FIELDS, events, resources
from vigil.core.model import ResourceState, utcnow

RETIRED = ResourceState.RETIRED.value


def retire_unplanned(
    db: Database,
    planned: Iterable[str],
    now: datetime | None = None,
    *,
    held: Iterable[tuple[str, str, str, str]] = (),
) -> int:
    """Mark `retired` the present resources whose scope key is not in `planned`.

    `held` are the (provider, account, region, type) of scopes of the pass that failed: a
    resource they could have returned (a renamed source whose new scope failed) stays present.
    """
    now = now or utcnow()
    keys, holds = set(planned), set(held)
    c = resources.c
    with db.begin() as conn:
        # The narrow columns of every present resource first (a pass that retires nothing,
        # the usual case, decodes no record), then the whole rows of those that go.
        present = conn.execute(
            sa.select(c.uid, c.scope_key, c.provider, c.account, c.region, c.type).where(
                c.state == ResourceState.PRESENT.value
            )
        )
        uids = [
            uid
            for uid, scope_key, *scope in present
            if scope_key not in keys and tuple(scope) not in holds
        ]
        if not uids:
            return 0
        gone = [
            row
            for start in range(0, len(uids), 500)
            for row in conn.execute(
                sa.select(resources).where(c.uid.in_(uids[start : start + 500]))
            ).mappings()
        ]
        conn.execute(
            events.insert(),
            [
                {name: row[name] for name in RECORD_FIELDS}
                | {
                    "scope_key": row["scope_key"],
                    "first_seen": row["first_seen"],
                    "run_id": None,
                    "kind": RETIRED,
                    "changes": {},
                    "at": now,
                }
                for row in gone
            ],
        )
        for start in range(0, len(uids), 500):
            conn.execute(
                resources.update()
                .where(resources.c.uid.in_(uids[start : start + 500]))
                .values(state=RETIRED, last_changed=now, deleted_at=now)
            )
        end_links_from(conn, uids, now)
        # A name that more than one resource answered to may now have one holder left.
        resolve(
            conn,
            {
                ref
                for row in gone
                for ref in names_of(row["type"], row["native_id"], row["attributes"])
            },
        )
    return len(gone)
