"""Domain facts more than one stage needs, told once: rules, storage queries, metrics, the
dashboard and reports all read them from here, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vigil.core.timeutil import instant_or_none

CERTIFICATE_EXPIRY_ATTRIBUTES = ("not_after", "chain_not_after")
"""A certificate stops working at the earliest of these: an intermediate in its chain that
expires first breaks the leaf too. Both are ISO 8601 UTC text in every collector."""

USABLE_SNAPSHOT_STATES = frozenset({"completed", "available", ""})
"""Snapshot states that count as a backup (a pending or failed snapshot restores nothing)."""

STALE_AFTER_INTERVALS = 3
"""A completed scope's data stays current for this many collection intervals (unless a
staleness is configured): `collector.failing`, the rules' known inputs and the exporter's
stale-scope gauge all judge staleness by it."""

_PROTOCOL_NAMES = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def protocol_name(value: str) -> str:
    """An IP protocol as every stage names it: `-1` → `all`, well-known numbers → names, other
    numbers and names as they are (lower case)."""
    value = str(value).lower()
    return _PROTOCOL_NAMES.get(value, value)


def dns_name(value: str) -> str:
    """A DNS name as every stage compares it: lower case, without the root dot or AWS's
    `dualstack.` prefix (Route 53 aliases carry it, the load balancer's own name does not)."""
    name = value.strip().lower().rstrip(".")
    return name.removeprefix("dualstack.")


def optional_dns_name(value: str | None) -> str | None:
    """`dns_name` for an API field that may be absent."""
    return dns_name(value) if value else value


def certificate_expiry(attributes: Mapping[str, Any]) -> tuple[datetime | None, str]:
    """When a certificate stops working, and which attribute says so (None, "" if unknown)."""
    candidates = [
        (when, key)
        for key in CERTIFICATE_EXPIRY_ATTRIBUTES
        if (when := instant_or_none(attributes.get(key))) is not None
    ]
    if not candidates:
        return None, ""
    return min(candidates)
