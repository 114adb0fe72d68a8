"""The alerting planner: one check's transitions → the messages to send. Pure: no database.

Inputs are the transitions, the routes, each resource's context (name, provider, tags), what was
last notified per (route, finding) and the check time; the output is a `Plan`: the messages,
grouped one per (route, group, notifier) with an idempotency key, and the notify states to
remember. A transition is notified when it is new, reopened or unsilenced; still open past the
route's `repeat_interval` (a reminder), or on a route that never said it was firing; or resolved
(if `send_resolved`) after it was notified as firing. Silenced findings and unannounced
resolutions (retired resource, disabled rule) send nothing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from notifiers import routing
from notifiers.base import FIRING, REPEAT, RESOLVED, Alert, Message
from notifiers.routing import RouteConfig
from vigil.core.alerting import NotifyState, OutboxMessage, ResourceContext, StateKey
from vigil.core.model import Severity, iso
from vigil.core.transitions import Transition, TransitionKind

RuleCatalog = Mapping[str, tuple[str, str]]
"""rule id → (title, remediation), for a message's heading."""

Group = tuple[tuple[str, str], ...]
"""A route's `group_by` keys with a finding's values: which message of the route it joins."""

SUMMARY_LIMIT = 500
_FIRING_KINDS = {
    TransitionKind.NEW,
    TransitionKind.REOPENED,
    TransitionKind.UNSILENCED,
    TransitionKind.SEVERITY_CHANGED,
}


@dataclass
class Plan:
    """What one check notifies: the messages, and the notify states to remember for them."""

    now: datetime
    messages: list[Message] = field(default_factory=list)
    states: dict[StateKey, NotifyState] = field(default_factory=dict)

    def outbox(self) -> list[OutboxMessage]:
        """The messages as outbox rows, due now."""
        return [outbox_message(message, self.now) for message in self.messages]


def notifiable(transitions: Iterable[Transition]) -> list[Transition]:
    """The transitions a plan may speak of (a silenced finding never does)."""
    return [t for t in transitions if t.kind != TransitionKind.SILENCED]


def plan(
    transitions: Sequence[Transition],
    routes: Sequence[RouteConfig],
    contexts: Mapping[str, ResourceContext],
    states: Mapping[StateKey, NotifyState],
    now: datetime,
    catalog: RuleCatalog | None = None,
) -> Plan:
    """Route, decide and group `transitions` into messages, given what was notified before."""
    keys = routing.route_keys(routes)
    result = Plan(now)
    groups: dict[tuple[int, Group], list[Alert]] = {}
    still_open: Counter[tuple[int, Group]] = Counter()
    for transition in notifiable(transitions):
        found = transition.finding
        context = contexts.get(found.resource_uid)
        labels = labels_of(transition, context)
        for index in routing.select(routes, labels):
            route, state_key = routes[index], (keys[index], found.fingerprint)
            grouped = (index, routing.group_key(route, labels))
            if transition.kind != TransitionKind.RESOLVED:  # PagerDuty resolves at 0
                still_open[grouped] += 1
            known = states.get(state_key)
            event = None if transition.unannounced else decide(transition.kind, route, known, now)
            if event is not None:
                result.states[state_key] = NotifyState(now, firing=event != RESOLVED)
                groups.setdefault(grouped, []).append(_alert(transition, event, labels, context))
            elif known is not None and transition.kind == TransitionKind.RESOLVED:
                result.states[state_key] = NotifyState(now, firing=False)
    for (index, group), alerts in groups.items():
        route, heading = routes[index], _heading(alerts, catalog or {})
        group_open = still_open[(index, group)]
        for notifier in route.notifiers:
            result.messages.append(
                _message(route, keys[index], notifier, group, alerts, heading, now, group_open)
            )
    return result


def decide(
    kind: TransitionKind, route: RouteConfig, known: NotifyState | None, now: datetime
) -> str | None:
    """The event a transition sends on `route` (firing, repeat, resolved), or None for none."""
    if kind in _FIRING_KINDS:
        return FIRING
    if kind == TransitionKind.STILL_OPEN:
        if known is None or not known.firing:
            return FIRING  # first time this route hears of it (a new route, or --no-notify)
        return REPEAT if now - known.last_notified_at >= route.repeat_interval else None
    if kind == TransitionKind.RESOLVED and route.send_resolved and known and known.firing:
        return RESOLVED
    return None


def labels_of(transition: Transition, context: ResourceContext | None) -> dict[str, str]:
    """What routes match and group on: the resource's tags, the finding's labels and fields."""
    found = transition.finding
    tags = {str(k): str(v) for k, v in (context.tags if context else {}).items()}
    return (
        tags
        | dict(found.labels)
        | {
            "rule": found.rule,
            "severity": found.severity.value,
            "source": found.source,
            "account": found.account or found.labels.get("account", ""),
            "region": found.region,
            "type": found.type,
            "provider": found.labels.get("provider") or (context.provider if context else ""),
        }
    )


def idempotency_key(
    route: str, notifier: str, group: Group, alerts: Sequence[Alert], now: datetime
) -> str:
    """Same route, notifier, group, transitions and check time → same key: enqueueing the
    same check twice writes one row. (Across checks, the notify states stop repeats.)"""
    digest = hashlib.sha256(f"{route}\0{notifier}\0{group!r}\0{iso(now)}".encode())
    for alert in sorted(alerts, key=lambda a: a.fingerprint):
        digest.update(f"\0{alert.fingerprint}:{alert.event}".encode())
    return digest.hexdigest()[:32]


def outbox_message(message: Message, now: datetime) -> OutboxMessage:
    """`message` as an outbox row: the columns a listing shows, and the message as payload."""
    return OutboxMessage(
        key=message.key,
        notifier=message.notifier,
        route=message.route,
        rule=message.rule,
        severity=message.severity.value,
        summary=message.summary()[:SUMMARY_LIMIT],
        alerts=len(message.alerts),
        payload=message.to_dict(),
        created_at=now,
    )


def _alert(
    transition: Transition, event: str, labels: Mapping[str, str], context: ResourceContext | None
) -> Alert:
    found = transition.finding
    return Alert(
        event=event,
        kind=transition.kind.value,
        fingerprint=found.fingerprint,
        rule=found.rule,
        severity=found.severity.value,
        title=found.title,
        detail=found.detail,
        resource_uid=found.resource_uid,
        native_id=found.native_id,
        name=context.name if context else "",
        type=found.type,
        source=found.source,
        provider=labels.get("provider", ""),
        account=labels.get("account", ""),
        region=found.region,
        labels=dict(found.labels),
        first_seen=iso(found.first_seen),
        last_seen=iso(found.last_seen),
        resolved_at=iso(found.resolved_at),
        reachable_from=context.reachable_from if context else "",
    )


def _heading(alerts: Sequence[Alert], catalog: RuleCatalog) -> tuple[str, str, str]:
    """(rule, title, remediation) of a message: its rule's, or a list of its rules."""
    rules = sorted({a.rule for a in alerts})
    if len(rules) == 1:
        title, remediation = catalog.get(rules[0], (rules[0], ""))
        return rules[0], title, remediation
    return ", ".join(rules[:5]), f"{len(rules)} rules", ""


def _message(
    route: RouteConfig,
    route_key: str,
    notifier: str,
    group: Group,
    alerts: list[Alert],
    heading: tuple[str, str, str],
    now: datetime,
    group_open: int,
) -> Message:
    rule, title, remediation = heading
    return Message(
        key=idempotency_key(route_key, notifier, group, alerts, now),
        notifier=notifier,
        route=route_key,
        group=dict(group),
        rule=rule,
        rule_title=title,
        remediation=remediation,
        created_at=iso(now) or "",
        repeat_interval_seconds=int(route.repeat_interval.total_seconds()),
        alerts=alerts,
        group_open=group_open,
    )


def sample_message(notifier: str, now: datetime) -> Message:
    """A harmless message that shows what a real one looks like (`vigil notify test`)."""
    stamp = iso(now) or ""
    alert = Alert(
        event=FIRING,
        kind="new",
        fingerprint="0" * 24,
        rule="vigil.test",
        severity=Severity.INFO.value,
        title="Vigil test notification: if you can read this, alerts reach you",
        detail="Sent by `vigil notify test`; nothing is wrong.",
        resource_uid="vigil/test",
        native_id="vigil-test",
        name="test resource",
        type="server",
        source="vigil",
        provider="vigil",
        account="-",
        region="global",
        first_seen=stamp,
        last_seen=stamp,
    )
    return Message(
        key=hashlib.sha256(f"test\0{notifier}\0{stamp}".encode()).hexdigest()[:32],
        notifier=notifier,
        route="test",
        group={"rule": "vigil.test"},
        rule="vigil.test",
        rule_title="Vigil test notification",
        remediation="Nothing to do.",
        created_at=stamp,
        repeat_interval_seconds=3600,
        alerts=[alert],
    )
