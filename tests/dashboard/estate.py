"""A small estate with a history, seeded through the real pipeline for the dashboard tests.

Three days of collections through storage.reconcile.Reconciler (with its clock moved back),
checks through vigil.app.check.run_check, and a silence through FindingStore: every number the
dashboard shows comes out of the same tables `vigil findings` and `vigil inventory` read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

from storage.db import Database
from storage.reconcile import Reconciler
from storage.silences import SilenceStore
from tests.factories import rules as rf
from vigil.app.check import run_check
from vigil.core.model import Resource, Scope, utcnow

HOSTILE_TAG = "<b>x</b>\u202efdp.exe"  # markup, and a bidi override that reorders text


@dataclass(frozen=True)
class Estate:
    """What was seeded, for assertions."""

    now: datetime
    hostile: Resource  # a server whose `note` tag is HOSTILE_TAG
    open_world: Resource  # a security group open to the world on SSH
    failed_scope: str  # scope key whose newest run failed


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _certificate(index: int, days_left: float, now: datetime) -> Resource:
    name = f"c{index}.example.com"
    return rf.resource(
        "certificate",
        f"arn:aws:acm:us-east-1:111111111111:certificate/{index}",
        name=name,
        common_name=name,
        not_before=_time(now - timedelta(days=300)),
        not_after=_time(now + timedelta(days=days_left)),
        key_algorithm="RSA",
        key_size=2048,
        signature_algorithm="SHA256WITHRSA",
        status="ISSUED",
        origin="acm",
        issuer="Amazon",
    )


def _servers(count: int, *, renamed: int | None = None) -> list[Resource]:
    servers = []
    for i in range(count):
        owner = "team-a" if i % 2 else "team-b"
        tags = {"owner": owner, "Name": f"web-{i}"}
        if i == 0:
            tags["note"] = HOSTILE_TAG
        if i == renamed:
            tags["Name"] = f"web-{i}-renamed"
        servers.append(rf.server(f"i-{i:04d}", tags=tags))
    return servers


def _estate(now: datetime, day: int) -> list[Resource]:
    """The estate as collected `day` days into the history (0, 1, 2)."""
    resources = _servers(12 - (1 if day == 2 else 0), renamed=3 if day >= 1 else None)
    resources.append(
        rf.security_group(
            "sg-open", ingress=[rf.permission(from_port=22)], tags={"owner": "team-a"}
        )
    )
    resources.append(rf.security_group("sg-closed", ingress=[rf.permission(source="10.0.0.0/8")]))
    resources.append(rf.disk("vol-nobackup", attached_to=["i-0001"]))
    resources += [_certificate(i, d, now) for i, d in enumerate((-2, 5, 20, 200))]
    return resources


def _collect(db: Database, at: datetime, resources: Iterable[Resource]) -> None:
    by_scope: dict[str, list[Resource]] = defaultdict(list)
    for resource in resources:
        by_scope[resource.scope_key].append(resource)
    reconciler = Reconciler(db, clock=lambda: at)
    for items in by_scope.values():
        first = items[0]
        scope = Scope(first.source, first.provider, first.account, first.region, first.type)
        run = reconciler.start(scope)
        reconciler.add_page(run, items)
        reconciler.complete(run)
    # Snapshots were collected too, and there are none: that is what makes a disk unbacked.
    disk = next(r for r in chain.from_iterable(by_scope.values()) if r.type == "disk")
    snapshots = Scope(disk.source, disk.provider, disk.account, disk.region, "snapshot")
    reconciler.complete(reconciler.start(snapshots))


def seed(db: Database, now: datetime | None = None) -> Estate:
    """Three daily collections and checks, a silence, and one scope that then failed."""
    now = now or utcnow()
    for day in range(3):
        at = now - timedelta(days=2 - day, minutes=5)
        _collect(db, at, _estate(now, day))
        run_check(db, now=at)
    SilenceStore(db).add_silence(
        rule="backup.missing",
        reason="scratch volume, rebuilt nightly",
        author="sre@example.com",
        expires_at=now + timedelta(days=7),
        now=now - timedelta(minutes=2),
    )
    run_check(db, now=now - timedelta(minutes=1))
    failed = Scope("aws-test", "aws", "111111111111", "eu-west-1", "server")
    reconciler = Reconciler(db, clock=lambda: now)
    reconciler.fail(reconciler.start(failed), "AccessDenied: not authorized in eu-west-1")
    hostile = _servers(1)[0]
    return Estate(now, hostile, rf.security_group("sg-open"), failed.key)


HOSTILE_NAME = (
    '<b>x</b>" ]; evil [label="pwn\\N" URL="javascript:alert(1)" <script>alert(1)</script>'
    '" onload="alert(2)" &#8238;&lt;i&gt; :red[x] $y$ **z**\u202efdp.exe'
)
"""A server's name: HTML, a quote that would end a DOT string or an SVG attribute, a DOT
escape, a script, entity references (one a bidi override), Streamlit Markdown (colour, math,
bold) and a bidi override."""


@dataclass(frozen=True)
class LinkedEstate:
    """shop.example.com → cdn E123 → alb web-prod → i-web and a hostile-named server."""

    dns: str
    cdn: str
    alb: str
    web: str
    hostile: str
    group: str  # sg-web, open to the world on SSH, protecting both servers
    disk: str  # vol-web, attached to i-web, never backed up
    certificate: str  # served by the load balancers, expiring in 20 days


def seed_linked(db: Database) -> LinkedEstate:
    """The exposure estate of the storage tests with a hostile-named server behind the public
    load balancer, collected through the real reconciler and checked by the real rules."""
    from tests.factories import scope
    from tests.factories.storage import scan
    from tests.storage import test_exposure as exposure
    from tests.storage.test_links import linked

    now = utcnow()
    reconciler = exposure.build_estate(db, clock=lambda: now - timedelta(minutes=5))
    servers, balancers = scope(type_="server"), scope(type_="load_balancer")
    group = ("protected_by", exposure.SG_WEB)
    hostile = linked("i-evil", servers, group)
    hostile.name = HOSTILE_NAME
    web = linked("i-web", servers, group)
    private = linked("i-private", servers, ("protected_by", exposure.SG_PRIVATE))
    scan(reconciler, servers, [[web, private, hostile]])
    public = linked(
        "web-prod",
        balancers,
        ("targets", exposure.WEB),
        ("targets", hostile.uid),
        ("serves", exposure.CERT),
        kind="application",
        scheme="internet-facing",
        dns_name="web-prod-1.elb.amazonaws.com",
    )
    internal = linked(
        "api-internal",
        balancers,
        ("targets", exposure.PRIVATE),
        ("serves", exposure.CERT),
        kind="application",
        scheme="internal",
        dns_name="api-internal-1.elb.amazonaws.com",
    )
    scan(reconciler, balancers, [[public, internal]])
    run_check(db, now=now)
    return LinkedEstate(
        exposure.DNS,
        exposure.CDN,
        exposure.ALB,
        exposure.WEB,
        hostile.uid,
        exposure.SG_WEB,
        exposure.DISK,
        exposure.CERT,
    )
