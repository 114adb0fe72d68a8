"""Timestamps as every collector writes them: ISO 8601 UTC with a trailing `Z`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from vigil.core.model import iso
from vigil.core.timeutil import parse_instant


def iso_time(value: Any) -> str | None:
    """A timestamp (datetime, epoch seconds or ISO 8601 string) as ISO 8601 UTC with Z.

    A naive datetime or string is taken as UTC (what APIs without an offset mean).
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        try:
            return iso(datetime.fromtimestamp(value, UTC))
        except (OverflowError, OSError) as exc:  # past year 9999 or the platform's time_t
            raise ValueError(f"timestamp out of range: {value!r}") from exc
    if isinstance(value, str):
        return iso(parse_instant(value))
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not a timestamp: {value!r}")
