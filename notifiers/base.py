"""The notifier contract and the message every channel renders.

A `Message` is one group of finding transitions for one notifier: what the outbox stores
(as JSON, never with a secret in it) and what a `Notifier` turns into a Slack post, a mail,
a webhook body or Alertmanager alerts. `send` raises `NotifyError`, saying whether trying
again later may succeed, so the outbox knows whether to back off or give up.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, ClassVar, Protocol

from pydantic import Field

from vigil.core.model import Severity
from vigil.core.schema import Duration, StrictModel

FIRING = "firing"
REPEAT = "repeat"
RESOLVED = "resolved"
EVENTS = (FIRING, REPEAT, RESOLVED)
"""What a message says about a finding: it started (again), it is still open, it ended."""


class NotifierSettings(StrictModel):
    """Keys every notifier has; each type adds its own (see docs/alerting.md)."""

    name: str
    type: str
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff: Duration = timedelta(seconds=30)
    timeout: Duration = timedelta(seconds=10)


@dataclass
class Alert:
    """One finding in a message, with the resource context an on-call engineer needs.

    Every string here except `event` and `severity` may come from whoever named the resource:
    notifiers escape them for their medium.
    """

    event: str
    kind: str
    fingerprint: str
    rule: str
    severity: str
    title: str
    detail: str
    resource_uid: str
    native_id: str
    name: str
    type: str
    source: str
    provider: str
    account: str
    region: str
    labels: dict[str, str] = field(default_factory=dict)
    first_seen: str | None = None
    last_seen: str | None = None
    resolved_at: str | None = None
    reachable_from: str = ""
    """`reachable from shop.example.com via cdn E123 → alb web-prod`; "" none or unknown."""

    @property
    def display_name(self) -> str:
        """`i-0abc (web-1)`: the native id, with the name when it says more."""
        if self.name and self.name != self.native_id:
            return f"{self.native_id} ({self.name})"
        return self.native_id or self.resource_uid


@dataclass
class Message:
    """One notification: a group of alerts of one route, for one notifier.

    `key` is the idempotency key (route, notifier, group and transition set): the outbox
    refuses a second row with the same key. Delivery is at-least-once (a sender killed
    between send and mark-sent leaves the row to be sent again), so every channel carries
    the key for the receiver to drop a repeat.
    """

    key: str
    notifier: str
    route: str
    group: dict[str, str]
    rule: str
    rule_title: str
    remediation: str
    created_at: str
    repeat_interval_seconds: int
    alerts: list[Alert]
    group_open: int | None = None
    """How many findings of this route's group are still open after the check (firing or
    not re-notified yet); None where the planner did not count (older outbox rows, tests).
    Channels with one incident per group (PagerDuty) resolve only when it is 0."""

    @property
    def severity(self) -> Severity:
        """The worst severity among the alerts still firing (or among all, if none fire)."""
        pool = self.firing or self.alerts
        severities = [Severity(a.severity) for a in pool] or [Severity.INFO]
        return max(severities, key=lambda s: s.rank)

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.event != RESOLVED]

    @property
    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.event == RESOLVED]

    def counts(self) -> dict[str, int]:
        """event → number of alerts (firing, repeat, resolved), zeros included."""
        counted = Counter(a.event for a in self.alerts)
        return {event: counted.get(event, 0) for event in EVENTS}

    def summary(self) -> str:
        """`[HIGH] Security group open to the internet: 3 new, 1 resolved` (plain text)."""
        counts = self.counts()
        parts = [
            f"{counts[FIRING]} new" if counts[FIRING] else "",
            f"{counts[REPEAT]} still open" if counts[REPEAT] else "",
            f"{counts[RESOLVED]} resolved" if counts[RESOLVED] else "",
        ]
        state = "RESOLVED" if not self.firing else self.severity.value.upper()
        return f"[{state}] {self.rule_title}: {', '.join(p for p in parts if p)}"

    def to_dict(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies, which dominated enqueue time.
        data = {name: getattr(self, name) for name in _MESSAGE_FIELDS}
        data["alerts"] = [{name: getattr(a, name) for name in _ALERT_FIELDS} for a in self.alerts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        alerts = [Alert(**a) for a in data.get("alerts", [])]
        return cls(**{**data, "alerts": alerts})

    def group_key(self) -> str:
        """A key of this route, notifier and group that stays the same from check to check.

        `key` names one message (it changes with the transitions and the check time); this
        names the group those messages are about: PagerDuty's `dedup_key`, so every trigger
        of a group updates one incident and its resolve closes that incident.
        """
        group = "\0".join(f"{k}={v}" for k, v in sorted(self.group.items()))
        digest = hashlib.sha256(f"{self.route}\0{self.notifier}\0{group}".encode())
        return "vigil-" + digest.hexdigest()[:32]


SettingsModel = type[NotifierSettings]
"""A notifier's config model (an alias: inside the classes, `type` is the channel name)."""

_MESSAGE_FIELDS = tuple(f.name for f in fields(Message) if f.name != "alerts")
_ALERT_FIELDS = tuple(f.name for f in fields(Alert))


class Notifier(Protocol):
    """One configured channel. `send` delivers one message or raises `NotifyError`."""

    type: ClassVar[str]
    config_model: ClassVar[SettingsModel]

    def send(self, message: Message) -> None: ...


class NotifierFactory(Protocol):
    type: ClassVar[str]
    config_model: ClassVar[SettingsModel]

    def __call__(self, config: Any) -> Notifier: ...


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def top_alerts(alerts: list[Alert], limit: int) -> tuple[list[Alert], int]:
    """The `limit` most severe alerts, and how many were left out."""
    ordered = sorted(alerts, key=lambda a: (-Severity(a.severity).rank, a.native_id))
    return ordered[:limit], max(len(ordered) - limit, 0)
