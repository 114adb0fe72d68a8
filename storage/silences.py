"""Silences: a rule (or `*`), optionally one resource and labels, acknowledged until expiry.

A finding that an unexpired silence matches is `silenced` from the next check on
(`storage/findings.py` applies them); an expired silence matches nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.tables import silences_table
from vigil.core.model import Finding, iso

if TYPE_CHECKING:
    from vigil.core.transitions import StoredFinding


@dataclass(frozen=True)
class Silence:
    """A silence: `rule` (or `*`), optional resource uid, and label=value matches (all must)."""

    id: str
    rule: str
    resource_uid: str | None
    labels: dict[str, str]
    reason: str
    author: str
    created_at: datetime
    expires_at: datetime

    def matches(self, found: Finding | StoredFinding) -> bool:
        """Whether the silence covers a finding: its rule, resource and every label."""
        if self.rule not in ("*", found.rule):
            return False
        if self.resource_uid and self.resource_uid != found.resource_uid:
            return False
        return all(found.labels.get(key) == value for key, value in self.labels.items())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "resource": self.resource_uid,
            "match": ",".join(f"{k}={v}" for k, v in sorted(self.labels.items())),
            "reason": self.reason,
            "author": self.author,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
        }


class SilenceStore:
    """Reads and writes silences."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_silence(
        self,
        *,
        rule: str,
        reason: str,
        author: str,
        expires_at: datetime,
        now: datetime,
        resource_uid: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> Silence:
        """Record a silence; it applies from the next check."""
        silence = Silence(
            id=uuid.uuid4().hex[:12],
            rule=rule,
            resource_uid=resource_uid,
            labels=dict(labels or {}),
            reason=reason,
            author=author,
            created_at=now,
            expires_at=expires_at,
        )
        matcher = {"rule": rule, "resource": resource_uid, "labels": silence.labels}
        with self.db.begin() as conn:
            conn.execute(
                silences_table.insert().values(
                    id=silence.id,
                    matcher=matcher,
                    reason=reason,
                    author=author,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return silence

    def silences(self, *, now: datetime | None = None) -> list[Silence]:
        """Every silence (only unexpired ones when `now` is given), newest first."""
        select = sa.select(silences_table).order_by(silences_table.c.created_at.desc())
        if now is not None:
            select = select.where(silences_table.c.expires_at > now)
        with self.db.connect() as conn:
            return [_silence(row) for row in conn.execute(select).mappings()]

    def remove_silence(self, silence_id: str) -> bool:
        """Delete a silence; False when there is none with that id."""
        with self.db.begin() as conn:
            result = conn.execute(silences_table.delete().where(silences_table.c.id == silence_id))
            return bool(result.rowcount)


def active_silences(conn: Connection, now: datetime) -> list[Silence]:
    """The silences in force at `now` (expiry is exclusive)."""
    query = sa.select(silences_table).where(silences_table.c.expires_at > now)
    return [_silence(row) for row in conn.execute(query).mappings()]


def _silence(row: sa.RowMapping) -> Silence:
    matcher = row["matcher"] or {}
    return Silence(
        id=row["id"],
        rule=matcher.get("rule", "*"),
        resource_uid=matcher.get("resource"),
        labels=dict(matcher.get("labels") or {}),
        reason=row["reason"],
        author=row["author"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )
