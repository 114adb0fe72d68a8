"""The notify use case: read, plan, enqueue (inside the findings transaction), deliver.

`outbox_hook` runs inside the findings transaction (FindingStore.apply): it reads what the
planner needs (resource contexts, last notify states), lets notifiers/planner.py decide and
group, and writes the messages and states to the outbox with the findings, so a crash can lose
neither. `deliver` sends what is due (notifiers/delivery.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.engine import Connection

from notifiers import planner
from notifiers.base import Notifier, NotifierSettings
from notifiers.delivery import DeliveryReport, deliver_due
from notifiers.registry import build_notifier
from storage import outbox as store
from storage.db import Database
from storage.exposure import entry_points, reachable_phrase
from storage.findings import TransitionHook
from storage.inventory import resource_contexts
from vigil.app.config import VigilConfig
from vigil.core.alerting import ResourceContext
from vigil.core.errors import ConfigError, VigilError
from vigil.core.model import utcnow
from vigil.core.transitions import Transition

__all__ = ["DeliveryReport", "deliver", "outbox_counts", "outbox_hook", "send_test"]


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
    catalog: planner.RuleCatalog,
) -> int:
    """Read, plan and write the messages of `transitions`; returns how many were written."""
    wanted = planner.notifiable(transitions)
    if not wanted:
        return 0
    contexts = _with_exposure(
        conn, resource_contexts(conn, (t.finding.resource_uid for t in wanted))
    )
    known = store.states(conn, (t.finding.fingerprint for t in wanted))
    planned = planner.plan(wanted, config.routes, contexts, known, now, catalog)
    written = store.enqueue(conn, planned.outbox())
    store.remember(conn, planned.states, known)
    return written


def _with_exposure(
    conn: Connection, contexts: dict[str, ResourceContext]
) -> dict[str, ResourceContext]:
    """`contexts` with the public names each resource is reachable from (in the same
    transaction as the findings, so a message says what the check saw)."""
    exposure = entry_points(conn, contexts)
    return {
        uid: replace(context, reachable_from=reachable_phrase(exposure.get(uid)))
        for uid, context in contexts.items()
    }


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
    build_notifier(settings).send(planner.sample_message(name, moment))
    return f"sent a test message through {name} ({settings.type})"
