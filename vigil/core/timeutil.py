"""Time as Vigil reads it: ISO 8601 instants and ages/durations like `7d`.

One contract for every reader: an instant is ISO 8601 with an offset or a trailing `Z`; a naive
one means UTC; every result is aware UTC. `parse_instant` raises on bad text (user input, config,
command output: the caller says where); `instant_or_none` reads a stored or API attribute,
where absent or unreadable means unknown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.core.model import utcnow

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
DURATION_HELP = "a duration such as 30s, 15m, 24h, 7d or 2w"
TIME_HELP = "an ISO 8601 time (2026-11-01T00:00:00Z) or an age (24h, 7d)"


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `15m`, `24h`, `7d`, `2w` (a number and a unit). Raises ValueError."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not {DURATION_HELP}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def is_age(text: str) -> bool:
    """True for an age such as `7d`, false for an instant."""
    return bool(_DURATION.match(str(text)))


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """Parse an ISO 8601 instant or an age counted back from now. Returns aware UTC."""
    text = str(text).strip()
    if is_age(text):
        return (now or utcnow()) - parse_duration(text)
    try:
        return parse_instant(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {TIME_HELP}") from None


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant as aware UTC (`Z` accepted, naive taken as UTC). Raises ValueError."""
    return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def instant_or_none(value: Any) -> datetime | None:
    """An attribute holding an instant (ISO 8601 text or a datetime) as aware UTC; None when
    absent or unreadable."""
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None


def as_utc(value: datetime) -> datetime:
    """`value` in UTC: converted when it has an offset, taken as UTC when naive.

    Offsets are converted, not kept: titles and reports print these times with a `Z`.
    """
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def format_duration(delta: timedelta) -> str:
    """A short human form: 3d4h, 5m, 12s."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    if not parts:
        parts.append(f"{seconds}s")
    return sign + "".join(parts)
