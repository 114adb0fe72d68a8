"""The notify use case: turn finding transitions into outbox messages, and deliver them.

`outbox_hook` runs inside the findings transaction (FindingStore.apply): it routes each
transition, groups the alerts into one message per (route, group, notifier), and writes them
to the outbox together with the findings, so a crash can lose neither. `deliver` sends what
is due. A transition is notified when it is new, reopened or unsilenced; still open past the
route's `repeat_interval` (a reminder); or resolved (if `send_resolved`) after it was
notified as firing. Silenced findings send nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from notifiers import routing
from notifiers.base import FIRING, REPEAT, RESOLVED, Alert, Message, Notifier, NotifierSettings
from notifiers.delivery import DeliveryReport, deliver_due
from notifiers.registry import build_notifier
from notifiers.routing import RouteConfig
from storage import outbox as store
from storage.db import Database
from storage.findings import Transition, TransitionHook, TransitionKind
from storage.tables import ResourceRow
from vigil.app.config import VigilConfig
from vigil.core.errors import ConfigError, VigilError
from vigil.core.model import Severity, iso, utcnow

__all__ = ["DeliveryReport", "deliver", "outbox_counts", "outbox_hook", "send_test"]

_FIRING_KINDS = {TransitionKind.NEW, TransitionKind.REOPENED, TransitionKind.UNSILENCED}
_CHUNK = 500
_resources = ResourceRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Context:
    """What the findings table lacks and a message shows: the resource's name and tags."""

    name: str
    provider: str
    tags: dict[str, str]


def outbox_hook(
    config: VigilConfig | None, *, now: datetime | None = None
) -> TransitionHook | None:
    """A hook that enqueues the notifications of a check; None when nothing is configured."""
    if config is None or not config.notifiers or not config.routes:
        return None
    catalog: dict[str, tuple[str, str]] = {}

    def hook(conn: Connection, transitions: Sequence[Transition]) -> None:
        if not catalog:
            catalog.update(_rule_catalog(config))
        enqueue(conn, transitions, config, now or utcnow(), catalog)

    return hook


def enqueue(
    conn: Connection,
    transitions: Sequence[Transition],
    config: VigilConfig,
    now: datetime,
    catalog: dict[str, tuple[str, str]],
) -> int:
    """Route, group and write the messages of `transitions`; returns how many were written."""
    relevant = [t for t in transitions if t.kind != TransitionKind.SILENCED]
    if not relevant:
        return 0
    context = _contexts(conn, {t.finding.resource_uid for t in relevant})
    known = store.states(conn, (t.finding.fingerprint for t in relevant))
    keys = routing.route_keys(config.routes)
    groups: dict[tuple[int, tuple[tuple[str, str], ...]], list[Alert]] = {}
    still_open: Counter[tuple[int, tuple[tuple[str, str], ...]]] = Counter()
    remembered: dict[tuple[str, str], store.NotifyState] = {}
    for transition in relevant:
        found = transition.finding
        ctx = context.get(found.resource_uid)
        labels = _labels(transition, ctx)
        for index in routing.select(config.routes, labels):
            route, state_key = config.routes[index], (keys[index], found.fingerprint)
            group = routing.group_key(route, labels)
            if transition.kind != TransitionKind.RESOLVED:  # PagerDuty resolves at 0
                still_open[(index, group)] += 1
            event = (
                None
                if transition.unannounced  # retired or rule_disabled: nothing to tell
                else _event(transition.kind, route, known.get(state_key), now)
            )
            if event is None:
                if state_key in known and transition.kind == TransitionKind.RESOLVED:
                    remembered[state_key] = store.NotifyState(now, firing=False)
                continue
            remembered[state_key] = store.NotifyState(now, firing=event != RESOLVED)
            groups.setdefault((index, group), []).append(_alert(transition, event, labels, ctx))
    rows = []
    for (index, group), alerts in groups.items():
        for message in _messages(config, keys, index, group, alerts, now, catalog):
            message.group_open = still_open[(index, group)]
            rows.append(_row(message, now))
    written = store.enqueue(conn, rows)
    store.remember(conn, remembered, known)
    return written


def _event(
    kind: TransitionKind, route: RouteConfig, known: store.NotifyState | None, now: datetime
) -> str | None:
    if kind in _FIRING_KINDS:
        return FIRING
    if kind == TransitionKind.STILL_OPEN:
        if known is None or not known.firing:
            return FIRING  # first time this route hears of it (a new route, or --no-notify)
        return REPEAT if now - known.last_notified_at >= route.repeat_interval else None
    if kind == TransitionKind.RESOLVED and route.send_resolved and known and known.firing:
        return RESOLVED
    return None


def _labels(transition: Transition, ctx: _Context | None) -> dict[str, str]:
    found = transition.finding
    tags = {str(k): str(v) for k, v in (ctx.tags if ctx else {}).items()}
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
            "provider": found.labels.get("provider") or (ctx.provider if ctx else ""),
        }
    )


def _alert(
    transition: Transition, event: str, labels: dict[str, str], ctx: _Context | None
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
        name=ctx.name if ctx else "",
        type=found.type,
        source=found.source,
        provider=labels.get("provider", ""),
        account=labels.get("account", ""),
        region=found.region,
        labels=dict(found.labels),
        first_seen=iso(found.first_seen),
        last_seen=iso(found.last_seen),
        resolved_at=iso(found.resolved_at),
    )


def _messages(
    config: VigilConfig,
    keys: list[str],
    index: int,
    group: tuple[tuple[str, str], ...],
    alerts: list[Alert],
    now: datetime,
    catalog: dict[str, tuple[str, str]],
) -> Iterable[Message]:
    route = config.routes[index]
    rules = sorted({a.rule for a in alerts})
    rule = rules[0] if len(rules) == 1 else ", ".join(rules[:5])
    title, remediation = (
        catalog.get(rule, (rule, "")) if len(rules) == 1 else (f"{len(rules)} rules", "")
    )
    for notifier in route.notifiers:
        yield Message(
            key=_idempotency_key(keys[index], notifier, group, alerts, now),
            notifier=notifier,
            route=keys[index],
            group=dict(group),
            rule=rule,
            rule_title=title,
            remediation=remediation,
            created_at=iso(now) or "",
            repeat_interval_seconds=int(route.repeat_interval.total_seconds()),
            alerts=alerts,
        )


def _idempotency_key(
    route: str,
    notifier: str,
    group: tuple[tuple[str, str], ...],
    alerts: list[Alert],
    now: datetime,
) -> str:
    """Same route, notifier, group, transitions and check time → same key: enqueueing the
    same check twice writes one row. (Across checks, notify_state stops repeats.)"""
    digest = hashlib.sha256(f"{route}\0{notifier}\0{group!r}\0{iso(now)}".encode())
    for alert in sorted(alerts, key=lambda a: a.fingerprint):
        digest.update(f"\0{alert.fingerprint}:{alert.event}".encode())
    return digest.hexdigest()[:32]


def _row(message: Message, now: datetime) -> dict[str, Any]:
    return {
        "key": message.key,
        "notifier": message.notifier,
        "route": message.route,
        "rule": message.rule,
        "severity": message.severity.value,
        "summary": message.summary()[:500],
        "alerts": len(message.alerts),
        "status": store.PENDING,
        "attempts": 0,
        "payload": message.to_dict(),
        "created_at": now,
        "next_attempt_at": now,
        "sent_at": None,
        "last_error": None,
    }


def _contexts(conn: Connection, uids: set[str]) -> dict[str, _Context]:
    listed = sorted(uids)
    found: dict[str, _Context] = {}
    columns = (_resources.c.uid, _resources.c.name, _resources.c.provider, _resources.c.tags)
    for start in range(0, len(listed), _CHUNK):
        query = sa.select(*columns).where(_resources.c.uid.in_(listed[start : start + _CHUNK]))
        for row in conn.execute(query):
            found[row.uid] = _Context(row.name or "", row.provider, dict(row.tags or {}))
    return found


def _rule_catalog(config: VigilConfig) -> dict[str, tuple[str, str]]:
    """rule id → (title, remediation), for the message heading."""
    from rules.registry import all_rules, builtin_rules

    try:
        rules = all_rules(config.rules)
    except VigilError:
        rules = builtin_rules()
    return {rule.id: (rule.title, rule.remediation) for rule in rules}


# -- delivery --------------------------------------------------------------------------------


def deliver(
    db: Database,
    config: VigilConfig,
    *,
    now: datetime | None = None,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Send the outbox messages due now, with exponential backoff; mark sent/failed/dead."""
    notifiers: dict[str, tuple[NotifierSettings, Notifier]] = {
        settings.name: (settings, build_notifier(settings)) for settings in config.notifiers
    }
    if now is not None:
        return deliver_due(db, notifiers, now, stop)
    return deliver_due(db, notifiers, utcnow(), stop, clock=utcnow)


def outbox_counts(db: Database) -> dict[str, int]:
    """pending, sent, failed and dead outbox messages (for metrics and the dashboard)."""
    return store.counts(db)


def send_test(config: VigilConfig | None, name: str, *, now: datetime | None = None) -> str:
    """Send a test message through notifier `name` now (not through the outbox)."""
    settings = next((n for n in (config.notifiers if config else []) if n.name == name), None)
    if settings is None:
        names = ", ".join(n.name for n in config.notifiers) if config else ""
        raise ConfigError(
            f"no notifier named {name!r}",
            fix=f"use one of: {names}"
            if names
            else "add a notifier under `notifiers:` in the config",
        )
    moment = now or utcnow()
    build_notifier(settings).send(test_message(name, moment))
    return f"sent a test message through {name} ({settings.type})"


def test_message(notifier: str, now: datetime) -> Message:
    """A harmless message that shows what a real one looks like."""
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
