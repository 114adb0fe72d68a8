"""Scans applied through the real reconciler: how storage tests put an estate in a database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from storage.db import Database
from storage.reconcile import Reconciler, RunStats
from storage.tables import findings_table
from vigil.core.model import Resource, Scope, dns_ref


def scan(
    reconciler: Reconciler, where: Scope, pages: list[list[Resource]], fail: bool = False
) -> RunStats:
    """One scope run of `pages`, completed (or failed with an access error when `fail`)."""
    run = reconciler.start(where)
    for page in pages:
        reconciler.add_page(run, page)
    if fail:
        return reconciler.fail(run, "AccessDenied: not allowed")
    return reconciler.complete(run)


def stored_finding(
    db: Database,
    fingerprint: str,
    status: str = "open",
    *,
    at: datetime,
    resolved_at: datetime | None = None,
    severity: str = "critical",
) -> None:
    """A finding row as the findings store keeps it (for storage tests that need many states)."""
    with db.begin() as conn:
        conn.execute(
            findings_table.insert().values(
                fingerprint=fingerprint, rule="cert.expired", severity=severity, status=status,
                title=f"finding {fingerprint}", resource_uid="aws/1/r/server/i-1", labels={},
                evidence={}, first_seen=at, last_seen=at, resolved_at=resolved_at,
            )
        )  # fmt: skip


@contextmanager
def write_statements(
    db: Database, prefixes: tuple[str, ...] = ("INSERT", "UPDATE", "DELETE")
) -> Iterator[list[str]]:
    """Every statement sent while the block runs that starts with one of `prefixes`
    (upper-cased, on one line): what a scan costs the database."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        text = " ".join(statement.split()).upper()
        if text.startswith(prefixes):
            seen.append(text)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/web/1"
LB_DNS = "web-1.us-east-1.elb.amazonaws.com"


def certificate_estate(db: Database, at: datetime) -> dict[str, Resource]:
    """ACM certificates bound, spare, of unknown use and served elsewhere; a load balancer
    serving the first, a record routed to it, and probes of three endpoints (one unreachable,
    carrying its last known serial). Collected through the reconciler, links resolved by it."""
    from tests.factories import rules as rf  # the rule factories build the AWS records

    def acm(index: int, serial: str, **attributes: object) -> Resource:
        arn = f"arn:aws:acm:us-east-1:111111111111:certificate/{index}"
        return rf.certificate(arn, common_name=f"c{index}.example.com", serial=serial,
                              origin="acm", **attributes)  # fmt: skip

    made = {
        "bound": acm(1, "1a2b", in_use_by=[LB_ARN]),
        "spare": acm(2, "3c4d", in_use_by=[]),
        "unknown": acm(3, "5e6f"),
        "elsewhere": acm(4, "7a8b", in_use_by=[]),
    }
    lb = rf.resource("load_balancer", LB_ARN, name="web", dns_name=LB_DNS)
    lb.link("serves", made["bound"].uid)
    www = rf.record("www.example.com.", alias_target=LB_DNS)
    www.link("routes_to", dns_ref(LB_DNS))
    made |= {"lb": lb, "www": www}
    for key, name, serial, reachable in (
        ("probe_www", "www.example.com", "1a2b", True),
        ("probe_old", "old.example.com", "7a8b", True),
        ("probe_down", "down.example.com", "3c4d", False),
    ):
        made[key] = Resource(
            source="edge", provider="probe", account="edge", region="global",
            type="certificate", native_id=f"{name}:443", name=name,
            attributes={"origin": "probe", "host": name, "port": 443, "server_name": name,
                        "serial": serial, "reachable": reachable,
                        "error": None if reachable else "timed out"},
        )  # fmt: skip
    reconciler = Reconciler(db, clock=lambda: at)
    by_scope: dict[str, list[Resource]] = {}
    for item in made.values():
        by_scope.setdefault(item.scope_key, []).append(item)
    for items in by_scope.values():
        first = items[0]
        where = Scope(first.source, first.provider, first.account, first.region, first.type)
        scan(reconciler, where, [items])
    return made
