"""The evidence-pack hash chain: each pack's manifest digest and the one before it.

`vigil report pack` records a row per pack it writes; the next pack's manifest names the
previous manifest's SHA-256, so removing, replacing or reordering a pack breaks the chain
and `vigil report verify` says where.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.tables import report_packs
from vigil.core.errors import StorageError


@dataclass(frozen=True)
class PackRecord:
    """A recorded pack, as the chain knows it."""

    id: int
    manifest_sha256: str
    previous_sha256: str | None
    created_at: datetime
    file_name: str
    key_id: str | None


def latest(conn: Connection) -> PackRecord | None:
    """The newest recorded pack (the next pack's predecessor), or None for the first."""
    row = conn.execute(sa.select(report_packs).order_by(report_packs.c.id.desc()).limit(1))
    found = row.mappings().first()
    return _record(found) if found else None


def find(db: Database, manifest_sha256: str) -> PackRecord | None:
    """The pack whose manifest has this digest, if it was recorded here."""
    query = sa.select(report_packs).where(report_packs.c.manifest_sha256 == manifest_sha256)
    with db.connect() as conn:
        found = conn.execute(query).mappings().first()
    return _record(found) if found else None


def successor(db: Database, manifest_sha256: str) -> PackRecord | None:
    """The pack recorded right after the one with this manifest digest, if any."""
    query = sa.select(report_packs).where(report_packs.c.previous_sha256 == manifest_sha256)
    with db.connect() as conn:
        found = conn.execute(query).mappings().first()
    return _record(found) if found else None


def record(
    conn: Connection,
    *,
    manifest_sha256: str,
    previous_sha256: str | None,
    created_at: datetime,
    file_name: str,
    key_id: str | None,
) -> None:
    """Append a pack to the chain, inside the caller's transaction."""
    try:
        conn.execute(
            report_packs.insert().values(
                manifest_sha256=manifest_sha256,
                previous_sha256=previous_sha256,
                created_at=created_at,
                file_name=file_name,
                key_id=key_id,
            )
        )
    except sa.exc.IntegrityError:
        raise StorageError(
            "another evidence pack was recorded at the same time and took this pack's place "
            "in the chain; run `vigil report pack` again",
            retryable=True,
        ) from None


def _record(row: sa.RowMapping) -> PackRecord:
    return PackRecord(
        id=row["id"],
        manifest_sha256=row["manifest_sha256"],
        previous_sha256=row["previous_sha256"],
        created_at=row["created_at"],
        file_name=row["file_name"],
        key_id=row["key_id"],
    )
