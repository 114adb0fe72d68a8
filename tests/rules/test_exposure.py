"""exposure.public and tls.plaintext: each clause's must-flag case, its decoy, the unknown."""

from __future__ import annotations

from typing import Any

import pytest

from rules.exposure import PlaintextWeb, PublicExposure
from tests.factories.rules import (
    evaluate,
    one,
    permission,
    resource,
    scope_state,
    security_group,
    view,
)
from vigil.core.model import Resource, Severity, fingerprint

PUBLIC = PublicExposure()
PLAINTEXT = PlaintextWeb()


def bucket(public: object, **attributes: Any) -> Resource:
    return resource("bucket", "assets", region="eu-west-1", public=public, **attributes)


def test_a_public_bucket_is_high_and_says_why() -> None:
    found = one(evaluate(PUBLIC, view(bucket(True, public_reasons=["acl"]))))
    assert found.severity is Severity.HIGH
    assert found.title == "bucket assets is readable by anyone through its acl"


def test_a_private_bucket_is_not() -> None:
    assert evaluate(PUBLIC, view(bucket(False, public_reasons=[]))) == []


def test_a_bucket_whose_acl_or_policy_cannot_be_read_is_unknown() -> None:
    inventory = view(bucket(None))
    assert evaluate(PUBLIC, inventory) == []
    assert fingerprint(PUBLIC.id, bucket(None).uid) in inventory.unjudged


def test_a_public_snapshot_is_critical() -> None:
    snap = resource("snapshot", "snap-1", public=True)
    assert one(evaluate(PUBLIC, view(snap))).severity is Severity.CRITICAL


def test_a_private_snapshot_is_not_flagged() -> None:
    assert evaluate(PUBLIC, view(resource("snapshot", "snap-1", public=False))) == []


def test_a_snapshot_whose_sharing_is_unknown_is_not_flagged() -> None:
    assert evaluate(PUBLIC, view(resource("snapshot", "snap-1", public=None))) == []


def test_a_snapshot_without_a_public_attribute_is_not_judged() -> None:
    assert evaluate(PUBLIC, view(resource("snapshot", "snap-1"))) == []


def database(**attributes: Any) -> Resource:
    defaults = {"publicly_accessible": True, "port": 5432, "security_groups": ["sg-db"]}
    return resource("database", "orders", **(defaults | attributes))


def db_group(*entries: dict[str, Any]) -> Resource:
    return security_group("sg-db", ingress=list(entries))


WORLD_5432 = permission(from_port=5432)


def test_a_public_database_open_to_the_world_on_its_port_is_flagged() -> None:
    found = one(evaluate(PUBLIC, view(database(), db_group(WORLD_5432))))
    assert found.title == (
        "database orders is publicly accessible and open to the internet on port 5432"
    )
    assert found.evidence["security_groups"] == ["sg-db"]


@pytest.mark.parametrize(
    "entry",
    [
        permission(from_port=5432, source="10.0.0.0/8"),  # not the world
        permission(from_port=3306),  # the world, but another port
        permission("udp", 5432),  # not the database's protocol
    ],
)
def test_a_group_not_open_to_the_world_on_its_port_is_not(entry: dict[str, Any]) -> None:
    assert evaluate(PUBLIC, view(database(), db_group(entry))) == []


def test_all_traffic_from_the_world_counts() -> None:
    everything = permission("all")
    assert len(evaluate(PUBLIC, view(database(), db_group(everything)))) == 1


def test_a_database_that_is_not_publicly_accessible_is_not() -> None:
    private = database(publicly_accessible=False)
    assert evaluate(PUBLIC, view(private, db_group(WORLD_5432))) == []


def test_a_security_group_not_in_the_inventory_leaves_it_undecided() -> None:
    inventory = view(database())
    assert evaluate(PUBLIC, inventory) == []
    assert fingerprint(PUBLIC.id, database().uid) in inventory.unjudged


def test_a_security_group_scope_not_known_leaves_it_undecided() -> None:
    scopes = [
        scope_state("database"),
        scope_state("security_group", status="failed", last_complete=None),
    ]
    inventory = view(database(), db_group(WORLD_5432), scopes=scopes)
    assert evaluate(PUBLIC, inventory) == []
    assert fingerprint(PUBLIC.id, database().uid) in inventory.unjudged


def balancer(scheme: str = "internet-facing", **listener: Any) -> Resource:
    entry = {"protocol": "HTTP", "port": 80, "default_action": "forward"} | listener
    return resource("load_balancer", "web", scheme=scheme, listeners=[entry])


def test_an_internet_facing_http_listener_that_forwards_is_flagged() -> None:
    found = one(evaluate(PLAINTEXT, view(balancer())))
    assert found.severity is Severity.MEDIUM
    assert found.title == ("load balancer web serves HTTP without redirecting to HTTPS on HTTP:80")


@pytest.mark.parametrize(
    "decoy",
    [
        balancer(scheme="internal"),
        balancer(default_action="redirect", redirect_https=True),
        balancer(default_action="fixed-response"),
        balancer(protocol="HTTPS", port=443),
        balancer(protocol="TCP"),
    ],
)
def test_internal_redirecting_or_encrypted_listeners_are_not(decoy: Resource) -> None:
    assert evaluate(PLAINTEXT, view(decoy)) == []


def test_a_web_server_serving_its_own_content_over_http_is_flagged() -> None:
    found = one(evaluate(PLAINTEXT, view(balancer(default_action="serve"))))
    assert "serve content of their own" in found.detail


def test_a_listener_is_judged_by_its_own_scheme_when_it_has_one() -> None:
    """nginx/HAProxy on a host: one listener on 0.0.0.0, another on loopback."""

    def host_balancer(listener_scheme: str) -> Resource:
        entry = {"protocol": "HTTP", "port": 8080, "default_action": "forward"}
        listeners = [entry | {"scheme": listener_scheme}]
        return resource("load_balancer", "h:nginx", scheme="internet-facing", listeners=listeners)

    assert evaluate(PLAINTEXT, view(host_balancer("internal"))) == []
    found = one(evaluate(PLAINTEXT, view(host_balancer("internet-facing"))))
    assert found.title.endswith("on HTTP:8080")


def test_a_listener_whose_scheme_is_not_known_is_undecided() -> None:
    """nginx on `listen 80` of a host whose addresses could not be read: it may face the
    internet or not, so no finding and no resolution."""
    entry = {"protocol": "HTTP", "port": 80, "default_action": "forward", "scheme": None}
    unknown = resource("load_balancer", "h:nginx", scheme=None, listeners=[entry])
    inventory = view(unknown)
    assert evaluate(PLAINTEXT, inventory) == []
    assert fingerprint(PLAINTEXT.id, unknown.uid) in inventory.unjudged
    # beside a known internet-facing listener, the unknown one is undecided, not flagged
    public = {"protocol": "HTTP", "port": 8080, "default_action": "redirect", "scheme": None}
    mixed = resource(
        "load_balancer",
        "h:haproxy",
        scheme="internet-facing",
        listeners=[entry, public | {"scheme": "internet-facing"}],
    )
    inventory = view(mixed)
    assert evaluate(PLAINTEXT, inventory) == []
    assert fingerprint(PLAINTEXT.id, mixed.uid) in inventory.unjudged
    # an unknown listener that redirects is not serving: nothing to decide
    redirecting = resource(
        "load_balancer", "h:x", scheme=None, listeners=[entry | {"default_action": "redirect"}]
    )
    inventory = view(redirecting)
    assert evaluate(PLAINTEXT, inventory) == []
    assert fingerprint(PLAINTEXT.id, redirecting.uid) not in inventory.unjudged


def cdn(policy: str, **attributes: Any) -> Resource:
    return resource("cdn", "E123", region="global", viewer_protocol_policy=policy, **attributes)


def test_a_cdn_allowing_http_is_flagged() -> None:
    assert one(evaluate(PLAINTEXT, view(cdn("allow-all")))).native_id == "E123"


@pytest.mark.parametrize(
    "decoy", [cdn("redirect-to-https"), cdn("https-only"), cdn("allow-all", enabled=False)]
)
def test_a_cdn_that_redirects_or_is_disabled_is_not(decoy: Resource) -> None:
    assert evaluate(PLAINTEXT, view(decoy)) == []


def test_plaintext_under_a_failing_scope_is_undecided() -> None:
    failing = [scope_state("load_balancer", status="failed", last_complete=None)]
    inventory = view(balancer(), scopes=failing)
    assert evaluate(PLAINTEXT, inventory) == []
    assert fingerprint(PLAINTEXT.id, balancer().uid) in inventory.unjudged
