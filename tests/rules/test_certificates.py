"""cert.expiring, cert.expired, cert.invalid, cert.not_served."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.certificates import (
    CertificateExpired,
    CertificateExpiring,
    CertificateInvalid,
    CertificateNotServed,
)
from rules.view import ScopeState
from tests.factories.rules import (
    NOW,
    PROBE_SOURCE,
    certificate,
    evaluate,
    iso,
    one,
    probe_scope,
    record,
    resource,
    scope_state,
    view,
)
from vigil.core.model import Link, Resource, Severity, fingerprint

EXPIRING = CertificateExpiring()
EXPIRED = CertificateExpired()
INVALID = CertificateInvalid()


def test_expiring_within_critical_days_is_high_and_says_how_many_days() -> None:
    found = one(evaluate(EXPIRING, view(certificate(expires_in=timedelta(days=5, hours=3)))))
    assert found.severity is Severity.HIGH
    assert found.title == "certificate api.example.com expires in 5 days (threshold 30)"
    assert found.evidence["days_left"] == 5


def test_expiring_within_warn_days_is_medium() -> None:
    found = one(evaluate(EXPIRING, view(certificate(expires_in=timedelta(days=20)))))
    assert found.severity is Severity.MEDIUM


def test_exactly_at_the_warn_threshold_is_reported() -> None:
    found = one(evaluate(EXPIRING, view(certificate(expires_in=timedelta(days=30)))))
    assert found.severity is Severity.MEDIUM
    assert "expires in 30 days" in found.title


def test_one_second_past_the_warn_threshold_is_not_reported() -> None:
    inventory = view(certificate(expires_in=timedelta(days=30, seconds=1)))
    assert evaluate(EXPIRING, inventory) == []


def test_exactly_at_the_critical_threshold_is_high() -> None:
    found = one(evaluate(EXPIRING, view(certificate(expires_in=timedelta(days=7)))))
    assert found.severity is Severity.HIGH


def test_thresholds_come_from_params() -> None:
    inventory = view(certificate(expires_in=timedelta(days=50)))
    found = one(evaluate(EXPIRING, inventory, warn_days=60, critical_days=10))
    assert found.title.endswith("expires in 50 days (threshold 60)")


def test_an_earlier_chain_expiry_counts() -> None:
    cert = certificate(expires_in=timedelta(days=300))
    cert.attributes["chain_not_after"] = iso(NOW + timedelta(days=3))
    found = one(evaluate(EXPIRING, view(cert)))
    assert found.severity is Severity.HIGH
    assert "chain_not_after" in found.evidence


def test_expired_certificate_is_not_expiring_but_expired_and_critical() -> None:
    inventory = view(certificate(expires_in=-timedelta(days=3)))
    assert evaluate(EXPIRING, inventory) == []
    found = one(evaluate(EXPIRED, inventory))
    assert found.severity is Severity.CRITICAL
    assert found.title == "certificate api.example.com expired 3 days ago"


def test_valid_certificate_is_neither_expiring_nor_expired() -> None:
    inventory = view(certificate(expires_in=timedelta(days=90)))
    assert evaluate(EXPIRING, inventory) == evaluate(EXPIRED, inventory) == []


def test_certificate_without_dates_is_not_judged() -> None:
    cert = certificate()
    del cert.attributes["not_after"]
    inventory = view(cert)
    assert evaluate(EXPIRING, inventory) == evaluate(EXPIRED, inventory) == []


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"verified": False, "verify_error": "hostname mismatch"}, "hostname mismatch"),
        ({"verified": False, "verify_error": "self-signed certificate"}, "self-signed"),
        ({"key_algorithm": "RSA", "key_size": 1024}, "RSA key of 1024 bits"),
        ({"key_algorithm": "EC", "key_size": 224}, "EC key of 224 bits"),
        ({"signature_algorithm": "sha1WithRSAEncryption"}, "signed with sha1WithRSAEncryption"),
    ],
)
def test_invalid_certificates_are_high_and_say_why(attributes: dict, problem: str) -> None:
    found = one(evaluate(INVALID, view(certificate(**attributes))))
    assert found.severity is Severity.HIGH
    assert problem in found.title


def test_strong_verified_certificate_is_valid() -> None:
    inventory = view(
        certificate(verified=True, key_algorithm="EC", key_size=256),
        certificate("arn:2", key_algorithm="RSA", key_size=2048),
    )
    assert evaluate(INVALID, inventory) == []


def test_unverified_certificate_without_probe_result_is_not_invalid() -> None:
    assert evaluate(INVALID, view(certificate())) == []  # no `verified` key: not probed


def test_several_problems_are_one_finding() -> None:
    cert = certificate(verified=False, verify_error="expired chain", key_size=1024)
    found = one(evaluate(INVALID, view(cert)))
    assert len(found.evidence["problems"]) == 2


def test_expiry_written_with_an_offset_is_reported_in_utc() -> None:
    # 2026-11-10 01:30 at +02:00 is 2026-11-09 23:30 UTC: titles print times with a Z.
    cert = certificate(expires_in=timedelta(days=200))
    cert.attributes["not_after"] = "2026-11-10T01:30:00+02:00"
    found = one(evaluate(CertificateExpiring(), view(cert)))
    assert "valid until 2026-11-09 23:30Z" in found.detail
    assert found.evidence["not_after"] == "2026-11-09T23:30:00+00:00"


def test_expired_probe_certificate_is_reported_once_as_expired_not_also_invalid() -> None:
    cert = certificate(expires_in=timedelta(days=-3), verified=False, verify_error="expired")
    assert evaluate(INVALID, view(cert)) == []
    assert one(evaluate(EXPIRED, view(cert))).severity is Severity.CRITICAL


def test_an_expiring_certificate_says_which_load_balancers_and_cdns_serve_it() -> None:
    cert = certificate(expires_in=timedelta(days=5))
    https = {"protocol": "HTTPS", "port": 443, "certificates": [cert.native_id]}
    served = [
        resource("load_balancer", "arn:lb/shop", listeners=[https, https | {"port": 8443}]),
        resource("cdn", "E123", region="global", certificate=cert.native_id),
        resource("cdn", "E999", region="global", certificate="default"),
    ]
    found = one(evaluate(EXPIRING, view(cert, *served)))
    assert found.evidence["served_by"] == ["load_balancer arn:lb/shop", "cdn E123"]
    assert found.detail.endswith("Served by load_balancer arn:lb/shop, cdn E123.")


def test_without_bindings_acm_in_use_by_says_where_it_is_served() -> None:
    cert = certificate(expires_in=timedelta(days=5), in_use_by=["arn:aws:elb:x"])
    assert one(evaluate(EXPIRING, view(cert))).evidence["served_by"] == ["arn:aws:elb:x"]


# -- cert.not_served ----------------------------------------------------------------------

NOT_SERVED = CertificateNotServed()
LB_DNS = "web-123.us-east-1.elb.amazonaws.com"
BOUND_SERIAL, OTHER_SERIAL = "1a2b3c", "9f8e7d"


def acm(index: int = 1, serial: str | None = BOUND_SERIAL) -> Resource:
    """An ACM certificate (its `serial` as collectors/certs.py writes it)."""
    arn = f"arn:aws:acm:us-east-1:111111111111:certificate/{index}"
    return certificate(arn, common_name="www.example.com", serial=serial)


def balancer(*certificates: Resource) -> Resource:
    lb = resource("load_balancer", "arn:aws:elasticloadbalancing:lb/app/web/1", name="web")
    lb.attributes["dns_name"] = LB_DNS
    for cert in certificates:
        lb.link("serves", cert.uid)
    return lb


def distribution(*certificates: Resource) -> Resource:
    cdn = resource("cdn", "E123", region="global", domain_name="d123.cloudfront.net")
    for cert in certificates:
        cdn.link("serves", cert.uid)
    return cdn


def routed(name: str, front: Resource) -> Resource:
    """A Route 53 alias record of `name` whose `routes_to` link names `front`."""
    alias = record(name + ".", alias_target=str(front.attributes.get("dns_name") or "x"))
    alias.link("routes_to", front.uid)
    return alias


def probed(
    name: str = "www.example.com",
    serial: str | None = OTHER_SERIAL,
    *,
    host: str | None = None,
    reachable: bool = True,
) -> Resource:
    """What the TLS probe records for an endpoint (collectors/probes/tls.py)."""
    host = host or name
    return Resource(
        source=PROBE_SOURCE,
        provider="probe",
        account=PROBE_SOURCE,
        region="global",
        type="certificate",
        native_id=f"{host}:443",
        name=name,
        attributes={
            "origin": "probe",
            "host": host,
            "port": 443,
            "server_name": name,
            "common_name": "old.example.com",
            "issuer": "CN=Old CA",
            "serial": serial,
            "reachable": reachable,
            "error": None if reachable else "timed out",
        },
    )


def test_an_endpoint_serving_another_certificate_than_its_load_balancer_binds_is_flagged() -> None:
    cert = acm()
    lb = balancer(cert)
    endpoint = probed()

    found = one(evaluate(NOT_SERVED, view(cert, lb, routed("www.example.com", lb), endpoint)))

    assert found.severity is Severity.MEDIUM
    assert found.resource_uid == endpoint.uid
    assert found.title == (
        "www.example.com:443 (www.example.com) serves certificate old.example.com "
        f"(serial {OTHER_SERIAL}), not the one bound to load_balancer "
        "arn:aws:elasticloadbalancing:lb/app/web/1 (web)"
    )
    assert found.evidence["bound"] == [
        {"uid": cert.uid, "native_id": cert.native_id, "serial": BOUND_SERIAL}
    ]
    assert found.evidence["routed_to"] == [lb.uid]
    assert found.evidence["served_serial"] == OTHER_SERIAL


def test_a_cdn_whose_name_serves_another_certificate_is_flagged() -> None:
    cert = acm()
    cdn = distribution(cert)
    alias = record("shop.example.com.", alias_target="d123.cloudfront.net")
    alias.link("routes_to", cdn.uid)

    found = one(evaluate(NOT_SERVED, view(cert, cdn, alias, probed("shop.example.com"))))

    assert "not the one bound to cdn E123" in found.title


def test_a_probe_of_an_address_with_the_name_as_server_name_is_judged_for_that_name() -> None:
    cert = acm()
    lb = balancer(cert)
    endpoint = probed(host="127.0.0.1")

    found = one(evaluate(NOT_SERVED, view(cert, lb, routed("www.example.com", lb), endpoint)))

    assert found.native_id == "127.0.0.1:443"


def test_the_bound_certificate_served_is_no_finding() -> None:
    cert = acm()
    lb = balancer(cert)
    inventory = view(cert, lb, routed("www.example.com", lb), probed(serial=BOUND_SERIAL))

    assert evaluate(NOT_SERVED, inventory) == []
    assert not inventory.unjudged


def test_serving_any_one_of_the_certificates_bound_is_no_finding() -> None:
    # A listener with SNI binds several certificates; which one a name gets is the server's.
    first, second = acm(1, "aaaa"), acm(2, OTHER_SERIAL)
    lb = balancer(first, second)
    inventory = view(first, second, lb, routed("www.example.com", lb), probed())

    assert evaluate(NOT_SERVED, inventory) == []


def test_a_name_not_routed_to_a_load_balancer_or_cdn_is_not_judged() -> None:
    cert, web = acm(), resource("server", "i-1", public_ips=["52.0.0.1"])
    lb = balancer(cert)
    to_server = record("www.example.com.", values=["52.0.0.1"])
    to_server.link("routes_to", web.uid)
    unresolved = record("api.example.com.", alias_target="gone.elb.amazonaws.com")
    unresolved.link("routes_to", "dns:gone.elb.amazonaws.com")
    other_name = routed("shop.example.com", lb)  # the load balancer's name is another one
    inventory = view(
        cert, lb, web, to_server, unresolved, other_name, probed(), probed("api.example.com")
    )

    assert evaluate(NOT_SERVED, inventory) == []
    assert not inventory.unjudged


def test_a_load_balancer_with_no_bound_certificate_is_not_judged() -> None:
    lb = balancer()  # HTTP listeners only; a CDN on CloudFront's default certificate alike
    cdn = distribution()
    shop = record("shop.example.com.", alias_target="d123.cloudfront.net")
    shop.link("routes_to", cdn.uid)
    inventory = view(
        lb, cdn, routed("www.example.com", lb), shop, probed(), probed("shop.example.com")
    )

    assert evaluate(NOT_SERVED, inventory) == []
    assert not inventory.unjudged


def test_a_probe_that_failed_leaves_the_endpoint_undecided() -> None:
    cert = acm()
    lb = balancer(cert)
    # Unreachable: the serial is the last known one (carried forward), not what answers now.
    failed = probed(reachable=False)
    no_serial = probed("api.example.com", serial=None)  # a chain that could not be read
    inventory = view(
        cert, lb, routed("www.example.com", lb), routed("api.example.com", lb), failed, no_serial
    )

    assert evaluate(NOT_SERVED, inventory) == []
    assert inventory.unjudged == {
        fingerprint(NOT_SERVED.id, failed.uid),
        fingerprint(NOT_SERVED.id, no_serial.uid),
    }


def test_a_probe_scope_not_known_leaves_the_endpoint_undecided() -> None:
    cert = acm()
    lb = balancer(cert)
    endpoint = probed()
    stale = probe_scope("certificate", status="failed", last_complete=NOW - timedelta(days=2))
    scopes = [scope_state(t) for t in ("certificate", "load_balancer")]
    scopes += [scope_state("dns_record", region="global"), stale]
    inventory = view(cert, lb, routed("www.example.com", lb), endpoint, scopes=scopes)

    assert evaluate(NOT_SERVED, inventory) == []
    assert inventory.unjudged == {fingerprint(NOT_SERVED.id, endpoint.uid)}


@pytest.mark.parametrize("unknown", ["no serial", "not collected", "iam certificate"])
def test_a_bound_certificate_of_unknown_serial_leaves_the_endpoint_undecided(unknown: str) -> None:
    known = acm(1)
    missing = acm(2, serial=None)
    lb = balancer(known)
    extra: list[Resource] = []
    if unknown == "no serial":
        lb.link("serves", missing.uid)
        extra.append(missing)
    elif unknown == "not collected":
        lb.link("serves", missing.uid)
    else:
        lb.link("serves", "native:certificate:arn:aws:iam::111111111111:server-certificate/old")
    endpoint = probed()
    inventory = view(known, lb, routed("www.example.com", lb), endpoint, *extra)

    assert evaluate(NOT_SERVED, inventory) == []
    assert inventory.unjudged == {fingerprint(NOT_SERVED.id, endpoint.uid)}


def test_a_served_certificate_matching_a_known_one_is_decided_even_beside_an_unknown() -> None:
    known, missing = acm(1, OTHER_SERIAL), acm(2, serial=None)
    lb = balancer(known, missing)
    inventory = view(known, missing, lb, routed("www.example.com", lb), probed())

    assert evaluate(NOT_SERVED, inventory) == []
    assert not inventory.unjudged


def test_a_load_balancer_scope_not_known_leaves_the_endpoint_undecided() -> None:
    cert = acm()
    lb = balancer(cert)
    endpoint = probed()
    scopes = [
        scope_state("certificate"),
        scope_state("load_balancer", status="failed", last_complete=None),
        scope_state("dns_record", region="global"),
        probe_scope("certificate"),
    ]
    inventory = view(cert, lb, routed("www.example.com", lb), endpoint, scopes=scopes)

    assert evaluate(NOT_SERVED, inventory) == []
    assert inventory.unjudged == {fingerprint(NOT_SERVED.id, endpoint.uid)}


def test_stored_links_are_read_through_the_view_loader() -> None:
    # In a check the links come from storage (resolved there), not from the resources.
    cert, lb, endpoint = acm(), balancer(), probed()
    alias = record("www.example.com.", alias_target=LB_DNS)
    stored = [Link(alias.uid, "routes_to", lb.uid), Link(lb.uid, "serves", cert.uid)]
    asked: list[list[str]] = []

    def load(kinds: Collection[str]) -> list[Link]:
        asked.append(sorted(kinds))
        return [link for link in stored if link.kind in kinds]

    inventory = view(cert, lb, alias, endpoint, link_loader=load)

    assert one(evaluate(NOT_SERVED, inventory)).resource_uid == endpoint.uid
    assert sorted(asked) == [["routes_to"], ["serves"]]  # once per kind


def test_a_load_balancer_whose_sni_certificates_could_not_be_read_is_undecided() -> None:
    cert = acm()
    lb = balancer(cert)
    lb.attributes["listeners"] = [
        {"protocol": "HTTPS", "port": 443, "certificates": [cert.native_id],
         "certificates_complete": False}
    ]  # fmt: skip
    endpoint = probed()
    inventory = view(cert, lb, routed("www.example.com", lb), endpoint)

    assert evaluate(NOT_SERVED, inventory) == []
    assert inventory.unjudged == {fingerprint(NOT_SERVED.id, endpoint.uid)}


KNOWN_OR_NOT = ("complete", "recent", "stale")  # each completed once: its resources exist


def _scope(type_: str, region: str, status: str, *, probe: bool = False) -> ScopeState:
    make = probe_scope if probe else scope_state
    if status == "complete":
        return make(type_, region=region) if not probe else make(type_)
    ago = timedelta(minutes=20) if status == "recent" else timedelta(hours=3)
    extra = {"status": "failed", "last_complete": NOW - ago}
    return make(type_, region=region, **extra) if not probe else make(type_, **extra)


@settings(max_examples=150, deadline=None)
@given(
    statuses=st.tuples(*[st.sampled_from(KNOWN_OR_NOT)] * 4),
    bound_serial=st.sampled_from((BOUND_SERIAL, None)),
    served_serial=st.sampled_from((BOUND_SERIAL, OTHER_SERIAL)),
    reachable=st.booleans(),
)
def test_not_served_is_judged_on_known_inputs_only(
    statuses: tuple[str, str, str, str],
    bound_serial: str | None,
    served_serial: str,
    reachable: bool,
) -> None:
    """Any mix of scope states: a finding only when every input is known and it is true;
    a true finding whose inputs are not all known is undecided, never resolved."""
    cert = acm(serial=bound_serial)
    lb = balancer(cert)
    endpoint = probed(serial=served_serial, reachable=reachable)
    estate = (cert, lb, routed("www.example.com", lb), endpoint)
    kinds = [("certificate", "us-east-1"), ("load_balancer", "us-east-1"), ("dns_record", "global")]
    scopes = [_scope(t, r, s) for (t, r), s in zip(kinds, statuses, strict=False)]
    scopes.append(_scope("certificate", "global", statuses[3], probe=True))
    truth = evaluate(NOT_SERVED, view(*estate))
    under = view(*estate, scopes=scopes)
    produced = evaluate(NOT_SERVED, under)

    assert [f.fingerprint for f in truth] == (
        [fingerprint(NOT_SERVED.id, endpoint.uid)]
        if reachable and bound_serial and served_serial != bound_serial
        else []
    )
    if "stale" not in statuses:
        assert [f.fingerprint for f in produced] == [f.fingerprint for f in truth]
    else:
        assert produced == []
        for found in truth:
            assert found.fingerprint in under.unjudged
