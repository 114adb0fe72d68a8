"""What the alerting planner reads and writes, as plain records: storage fills and stores them,
notifiers/planner.py decides with them without importing storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

StateKey = tuple[str, str]
"""(route key, finding fingerprint): what a notify state is remembered by."""


@dataclass(frozen=True)
class ResourceContext:
    """What the findings table lacks and a message shows: the resource's name, provider, tags."""

    name: str
    provider: str
    tags: dict[str, str] = field(default_factory=dict)
    reachable_from: str = ""
    """The public names the resource is reachable from, as a phrase (storage/exposure.py)."""


@dataclass(frozen=True)
class NotifyState:
    """When a finding was last notified on a route, and whether that said it was firing."""

    last_notified_at: datetime
    firing: bool


@dataclass(frozen=True)
class OutboxMessage:
    """One planned message for one notifier, as it goes into the outbox (pending, due now).

    `payload` is the message's JSON (`notifiers.base.Message.to_dict`), never with a secret.
    """

    key: str
    notifier: str
    route: str
    rule: str
    severity: str
    summary: str
    alerts: int
    payload: dict[str, Any]
    created_at: datetime
