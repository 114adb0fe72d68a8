"""Exposure paths: the public names a resource is reachable from, walked up the stored links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.exposure import EntryPoint, entry_points, reachable_phrase, search_entry_points
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.storage.test_links import linked
from tests.storage.test_reconcile import FakeClock
from vigil.core.model import Resource, Scope, dns_ref

ACCOUNT = "aws/111111111111"
DNS = f"{ACCOUNT}/global/dns_record/shop"
CDN = f"{ACCOUNT}/global/cdn/E123"
ALB = f"{ACCOUNT}/us-east-1/load_balancer/web-prod"
WEB = f"{ACCOUNT}/us-east-1/server/i-web"
DISK = f"{ACCOUNT}/us-east-1/disk/vol-web"
SG_WEB = f"{ACCOUNT}/us-east-1/security_group/sg-web"
PRIVATE = f"{ACCOUNT}/us-east-1/server/i-private"
SG_PRIVATE = f"{ACCOUNT}/us-east-1/security_group/sg-private"
CERT = f"{ACCOUNT}/us-east-1/certificate/arn:cert-web"
COLO = "hosts/colo/colo/server/db-1"
SSH = {"protocol": "tcp", "from_port": 22, "to_port": 22, "source": "0.0.0.0/0",
       "source_kind": "ipv4"}  # fmt: skip
"""Every security group of the estate is open on SSH: `network.open_port` flags each."""


def build_estate(db: Database, clock: Callable[[], datetime] | None = None) -> Reconciler:
    """shop.example.com → cdn E123 → alb web-prod → server i-web (sg-web, vol-web); an internal
    load balancer in front of i-private; no snapshot of vol-web; both load balancers serve a
    certificate that expires in 20 days; sources that stored no links (hosts, aws-legacy)."""
    reconciler = Reconciler(db, clock=clock or FakeClock())
    records = scope(type_="dns_record", region="global")
    cdns = scope(type_="cdn", region="global")
    balancers, servers = scope(type_="load_balancer"), scope(type_="server")
    groups, disks = scope(type_="security_group"), scope(type_="disk")
    colo = scope(source="colo", provider="hosts", account="colo", region="colo")
    shop = linked("shop", records, ("routes_to", dns_ref("d123.cloudfront.net.")))
    shop.name = "shop.example.com."
    scan(reconciler, records, [[shop]])
    cdn = linked("E123", cdns, ("origin", dns_ref("web-prod-1.elb.amazonaws.com")))
    cdn.attributes["domain_name"] = "d123.cloudfront.net"
    scan(reconciler, cdns, [[cdn]])
    public = _balancer("web-prod", balancers, "internet-facing", WEB)
    internal = _balancer("api-internal", balancers, "internal", PRIVATE)
    scan(reconciler, balancers, [[public, internal]])
    web = linked("i-web", servers, ("protected_by", SG_WEB))
    private = linked("i-private", servers, ("protected_by", SG_PRIVATE))
    scan(reconciler, servers, [[web, private]])
    open_groups = [
        resource(native_id, within=groups, ingress=[SSH], egress=[])
        for native_id in ("sg-web", "sg-private")
    ]
    scan(reconciler, groups, [open_groups])
    legacy = scope(source="aws-legacy", type_="security_group")
    scan(reconciler, legacy, [[resource("sg-legacy", within=legacy, ingress=[SSH], egress=[])]])
    scan(reconciler, disks, [[linked("vol-web", disks, ("attached_to", WEB), attached_to=WEB)]])
    scan(reconciler, scope(type_="snapshot"), [[]])  # collected, none of vol-web
    certs = scope(type_="certificate")
    expires = (datetime.now(UTC) + timedelta(days=20, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cert = resource("arn:cert-web", within=certs, common_name="shop.example.com", not_after=expires)
    scan(reconciler, certs, [[cert]])
    scan(reconciler, colo, [[resource("db-1", within=colo)]])
    return reconciler


def _balancer(native_id: str, within: Scope, scheme: str, target: str) -> Resource:
    record = linked(native_id, within, ("targets", target), ("serves", CERT))
    record.attributes.update(
        kind="application", scheme=scheme, dns_name=f"{native_id}-1.elb.amazonaws.com"
    )
    return record


def test_a_server_behind_a_cdn_and_a_public_load_balancer_is_reachable_from_its_name(
    db: Database,
) -> None:
    build_estate(db)

    with db.connect() as conn:
        found = entry_points(conn, [WEB])[WEB]

    assert found is not None
    assert [e.to_dict() for e in found] == [
        {"name": "web-prod-1.elb.amazonaws.com", "uid": ALB, "path": [ALB, WEB]},
        {"name": "d123.cloudfront.net", "uid": CDN, "path": [CDN, ALB, WEB]},
        {"name": "shop.example.com", "uid": DNS, "path": [DNS, CDN, ALB, WEB]},
    ]
    assert reachable_phrase(found) == "reachable from shop.example.com via cdn E123 → alb web-prod"


def test_a_security_group_and_a_disk_are_exposed_through_the_server_they_belong_to(
    db: Database,
) -> None:
    build_estate(db)

    with db.connect() as conn:
        found = entry_points(conn, [SG_WEB, DISK])

    assert reachable_phrase(found[SG_WEB]) == (
        "reachable from shop.example.com via cdn E123 → alb web-prod → server i-web"
    )
    assert [e.path for e in found[DISK] or []][-1] == (DNS, CDN, ALB, WEB, DISK)


def test_a_server_behind_an_internal_load_balancer_has_no_entry_point(db: Database) -> None:
    build_estate(db)

    with db.connect() as conn:
        found = entry_points(conn, [PRIVATE, SG_PRIVATE])

    assert found == {PRIVATE: [], SG_PRIVATE: []}
    assert reachable_phrase(found[PRIVATE]) == ""


def test_links_are_unknown_for_a_source_that_never_stored_one(db: Database) -> None:
    build_estate(db)

    with db.connect() as conn:
        found = entry_points(conn, [COLO, WEB, "aws/111111111111/us-east-1/server/gone"])

    assert found[COLO] is None
    assert found["aws/111111111111/us-east-1/server/gone"] is None
    assert found[WEB]


def test_an_entry_point_goes_when_its_scope_completes_without_the_link(db: Database) -> None:
    reconciler = build_estate(db)
    records = scope(type_="dns_record", region="global")

    scan(reconciler, records, [[resource("shop", within=records, name="shop.example.com.")]])

    with db.connect() as conn:
        found = entry_points(conn, [WEB])[WEB]
    assert [e.uid for e in found or []] == [ALB, CDN]
    assert isinstance((found or [])[0], EntryPoint)


def test_the_entry_point_search_lists_public_names_only_and_matches_text_literally(
    db: Database,
) -> None:
    build_estate(db)

    with db.connect() as conn:
        everything = search_entry_points(conn)
        narrowed = search_entry_points(conn, "CLOUDFRONT")
        wildcard = search_entry_points(conn, "%")

    # By public name; the internal load balancer and the servers are no entry points.
    assert everything == [
        (CDN, "d123.cloudfront.net (cdn E123)"),
        (DNS, "shop.example.com (dns)"),
        (ALB, "web-prod-1.elb.amazonaws.com (alb web-prod)"),
    ]
    assert narrowed == [(CDN, "d123.cloudfront.net (cdn E123)")]
    assert wildcard == []
