"""SQL expressions over resource attributes, shared by every query module.

They encode the domain facts of vigil.core.facts in SQL, so a query filters and orders by the
same definition the rules apply in Python.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.tables import ResourceRow
from vigil.core.facts import CERTIFICATE_EXPIRY_ATTRIBUTES

resources = ResourceRow.__table__  # type: ignore[attr-defined]


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
