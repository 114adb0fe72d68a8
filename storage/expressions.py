"""SQL expressions and small result shapes shared by every query module.

They encode the domain facts of vigil.core.facts in SQL, so a query filters and orders by the
same definition the rules apply in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.tables import findings_table, resources
from vigil.core.facts import CERTIFICATE_EXPIRY_ATTRIBUTES

FINDINGS_WITH_RESOURCES = findings_table.outerjoin(
    resources, resources.c.uid == findings_table.c.resource_uid
)
"""Findings with their resource's row (none for a subject that is not an inventory resource)."""


def attribute(name: str) -> sa.ColumnElement[Any]:
    """A resource attribute as text (JSON null and absent read as SQL NULL)."""
    value: sa.ColumnElement[Any] = resources.c.attributes[name].as_string()
    return value


def certificate_expiry() -> sa.ColumnElement[Any]:
    """The earliest of a certificate's expiry attributes, as ISO text (NULL when none).

    ISO 8601 UTC text in one format orders as time, so the earliest is the smallest text.
    """
    earliest: sa.ColumnElement[Any] | None = None
    for name in CERTIFICATE_EXPIRY_ATTRIBUTES:
        value = attribute(name)
        if earliest is None:
            earliest = value
            continue
        earliest = sa.case(
            (earliest.is_(None), value),
            (value.is_not(None) & (value < earliest), value),
            else_=earliest,
        )
    assert earliest is not None
    return earliest


def where_in(query: sa.Select[Any], table: sa.Table, **columns: Sequence[str]) -> sa.Select[Any]:
    """`query` narrowed to rows whose column is one of its values; no values: no narrowing."""
    for column, values in columns.items():
        if values:
            query = query.where(table.c[column].in_(values))
    return query


@dataclass(frozen=True)
class Page:
    """One page of rows and how many rows match in all."""

    rows: list[dict[str, Any]]
    total: int


def day_text(value: Any) -> str:
    """A `date()` result as YYYY-MM-DD: text on SQLite, a date on PostgreSQL."""
    return str(value)[:10]


def days_before(now: datetime, days: int) -> list[str]:
    """The last `days` days up to `now`, oldest first, as YYYY-MM-DD."""
    return [(now - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days - 1, -1, -1)]
