"""Builders for alerting tests: findings, messages, configs, and a check with the outbox hook."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from notifiers.base import FIRING, Alert, Message
from storage.db import Database
from storage.findings import FindingStore
from vigil.app.config import VigilConfig, parse_config
from vigil.app.notify import outbox_hook
from vigil.core.model import Finding, FindingStatus, Resolution, Severity, make_uid
from vigil.core.transitions import StoredFinding, Transition, TransitionKind

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "111111111111"


def finding(
    native_id: str,
    *,
    rule: str = "network.open_port",
    severity: Severity | str = Severity.HIGH,
    source: str = "aws-prod",
    region: str = "us-east-1",
    type_: str = "security_group",
    **labels: str,
) -> Finding:
    """A finding as a rule yields it, with the routing labels the engine sets."""
    uid = make_uid("aws", ACCOUNT, region, type_, native_id)
    severity = Severity(severity)
    return Finding(
        rule=rule,
        severity=severity,
        title=f"{type_} {native_id} is wrong",
        detail=f"details about {native_id}",
        resource_uid=uid,
        native_id=native_id,
        type=type_,
        source=source,
        region=region,
        labels={
            "provider": "aws",
            "account": ACCOUNT,
            "region": region,
            "type": type_,
            "source": source,
            "rule": rule,
            "severity": severity.value,
            **labels,
        },
    )


def findings(count: int, prefix: str = "sg-", **options: Any) -> list[Finding]:
    return [finding(f"{prefix}{i:05d}", **options) for i in range(count)]


def transition(
    native_id: str,
    kind: TransitionKind = TransitionKind.NEW,
    *,
    resolution: Resolution | None = None,
    at: datetime = T0,
    **options: Any,
) -> Transition:
    """A transition as the findings lifecycle reports it, without a database.

    `options` go to `finding` (rule, severity, source, type_, labels such as team)."""
    found = finding(native_id, **options)
    resolved = kind == TransitionKind.RESOLVED
    status = FindingStatus.RESOLVED if resolved else FindingStatus.OPEN
    if kind == TransitionKind.SILENCED:
        status = FindingStatus.SILENCED
    produced = {f.name: getattr(found, f.name) for f in fields(found)}
    stored = StoredFinding(
        **produced,
        fingerprint=found.fingerprint,
        status=status,
        account=ACCOUNT,
        first_seen=T0,
        last_seen=at,
        resolved_at=at if resolved else None,
        reopened_count=0,
        silence_id=None,
        resolution=(resolution or Resolution.FIXED) if resolved else None,
    )
    previous = None if kind == TransitionKind.NEW else FindingStatus.OPEN
    return Transition(kind, previous, stored)


def alert(native_id: str = "sg-1", *, event: str = FIRING, **fields: Any) -> Alert:
    values: dict[str, Any] = {
        "event": event,
        "kind": "new",
        "fingerprint": f"fp-{native_id}",
        "rule": "network.open_port",
        "severity": "high",
        "title": f"security group {native_id} is open to the internet on port 22",
        "detail": "0.0.0.0/0 may reach port 22",
        "resource_uid": f"aws/{ACCOUNT}/us-east-1/security_group/{native_id}",
        "native_id": native_id,
        "name": "web",
        "type": "security_group",
        "source": "aws-prod",
        "provider": "aws",
        "account": ACCOUNT,
        "region": "us-east-1",
        "labels": {"team": "payments"},
        "first_seen": "2026-11-01T12:00:00Z",
        "last_seen": "2026-11-01T12:00:00Z",
    }
    return Alert(**(values | fields))


def message(*alerts: Alert, notifier: str = "oncall", **fields: Any) -> Message:
    values: dict[str, Any] = {
        "key": "k" * 32,
        "notifier": notifier,
        "route": "route-1",
        "group": {"rule": "network.open_port", "source": "aws-prod"},
        "rule": "network.open_port",
        "rule_title": "Security group open to the internet",
        "remediation": "Restrict the rule to known networks.",
        "created_at": "2026-11-01T12:00:00Z",
        "repeat_interval_seconds": 14400,
        "alerts": list(alerts) or [alert()],
    }
    return Message(**(values | fields))


def config(
    notifiers: list[dict[str, Any]], routes: list[dict[str, Any]] | None = None
) -> VigilConfig:
    """A config with these notifiers; by default one catch-all route to all of them."""
    if routes is None:
        routes = [{"notifiers": [n["name"] for n in notifiers]}]
    return parse_config({"notifiers": notifiers, "routes": routes})


def webhook(name: str, url: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": "webhook", "url": url, **options}


def check(
    db: Database, produced: list[Finding], cfg: VigilConfig, now: datetime = T0
) -> list[Transition]:
    """One check's findings folded in, with the outbox hook, at `now`."""
    return FindingStore(db).apply(produced, now, on_transitions=outbox_hook(cfg, now=now))


def assert_secret_absent(secret: str, db: Database, *texts: str) -> None:
    """`secret` is in no table of `db`, no file of a SQLite database, and none of `texts`."""
    import sqlalchemy as sa

    for text in texts:
        assert secret not in text
    with db.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                assert secret not in repr(tuple(row)), table
    path = db.sqlite_path
    if path is not None:
        for file in path.parent.glob(path.name + "*"):
            assert secret.encode() not in file.read_bytes(), file
