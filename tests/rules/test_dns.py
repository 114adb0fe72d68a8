"""dns.dangling: NXDOMAIN from the probe, or a cloud name / address of ours that nothing holds."""

from __future__ import annotations

from datetime import timedelta

from collectors.aws.s3 import endpoint_names
from rules.dns import DanglingRecord
from rules.view import InventoryView
from tests.factories.rules import (
    NOW,
    database,
    evaluate,
    history,
    load_balancer,
    one,
    probe_record,
    probe_scope,
    record,
    resource,
    scope_state,
    server,
    view,
    zone,
)
from vigil.core.model import Resource, Severity, fingerprint

DANGLING = DanglingRecord()
GONE_SERVER = server("i-gone", public_ips=["52.1.2.3"])
GONE_LB = load_balancer("old-lb", dns_name="old-lb-9.us-east-1.elb.amazonaws.com")
COMPLETE = [scope_state(t, region=r) for t in ("server", "dns_record", "load_balancer", "database")
            for r in ("us-east-1", "global")]  # fmt: skip


def unjudged(inventory: InventoryView, resource_uid: str) -> bool:
    return fingerprint(DANGLING.id, resource_uid) in inventory.unjudged


# -- addresses ----------------------------------------------------------------------------


def test_a_record_to_an_address_a_deleted_server_held_is_dangling() -> None:
    inventory = view(zone(), record("app.example.com.", "A", ["52.1.2.3"]),
                     history_loader=history(GONE_SERVER))  # fmt: skip
    found = one(evaluate(DANGLING, inventory))
    assert found.severity is Severity.HIGH
    assert found.title == (
        "DNS record app.example.com A points at 52.1.2.3, which held before by a resource of "
        "ours, by none now"
    )
    assert found.evidence["targets"] == ["52.1.2.3"]


def test_a_record_to_an_address_nobody_of_ours_held_is_not_judged() -> None:
    saas = record("shop.example.com", "A", ["198.51.100.7"])
    inventory = view(saas, history_loader=history(GONE_SERVER))
    assert evaluate(DANGLING, inventory) == []
    assert not unjudged(inventory, saas.uid)  # decided: not ours to flag


def test_a_record_to_a_present_servers_address_is_fine_whatever_history_says() -> None:
    host = server(public_ips=["52.1.2.3"])
    inventory = view(host, record("app.example.com", "A", ["52.1.2.3"]),
                     history_loader=history(GONE_SERVER))  # fmt: skip
    assert evaluate(DANGLING, inventory) == []


def test_aaaa_record_compares_ipv6_canonically() -> None:
    host = server(public_ips=["2600:1F18:0:0::1"])
    gone = server("i-old", public_ips=["2600:1f18::2"])
    inventory = view(host, record("v6.example.com", "AAAA", ["2600:1f18::1", "2600:1f18::2"]),
                     history_loader=history(gone))  # fmt: skip
    assert one(evaluate(DANGLING, inventory)).evidence["targets"] == ["2600:1f18::2"]


def test_an_unheld_address_in_owned_ranges_is_dangling() -> None:
    inventory = view(record("eip.example.com", "A", ["54.240.0.7"]))
    found = one(evaluate(DANGLING, inventory, owned_ranges=["54.240.0.0/16"]))
    assert found.evidence["reasons"] == {
        "54.240.0.7": "lies in owned range 54.240.0.0/16, held by nothing now"
    }
    assert evaluate(DANGLING, inventory, owned_ranges=["54.241.0.0/16"]) == []


def test_an_address_in_owned_ranges_that_a_server_holds_is_fine() -> None:
    inventory = view(
        server(public_ips=["54.240.0.7"]), record("a.example.com", "A", ["54.240.0.7"])
    )
    assert evaluate(DANGLING, inventory, owned_ranges=["54.240.0.0/16"]) == []


def test_private_addresses_are_not_judged_even_when_held_before() -> None:
    gone = server("i-old", private_ips=["10.1.2.3"])
    inventory = view(record("int.example.com", "A", ["10.1.2.3"]), history_loader=history(gone))
    assert evaluate(DANGLING, inventory, owned_ranges=["10.0.0.0/8"]) == []


def test_addresses_are_unknown_while_a_server_scope_is_unknown() -> None:
    stale = scope_state("server", status="failed", last_complete=NOW - timedelta(hours=3))
    app = record("app.example.com", "A", ["52.1.2.3"])
    for scopes in ([], [*COMPLETE[1:], stale]):
        inventory = view(app, scopes=scopes, history_loader=history(GONE_SERVER))
        assert evaluate(DANGLING, inventory, owned_ranges=["52.0.0.0/8"]) == []
        assert unjudged(inventory, app.uid)


def test_a_server_scope_failed_within_the_window_still_counts_as_known() -> None:
    recent = scope_state("server", status="failed", last_complete=NOW - timedelta(minutes=20))
    inventory = view(record("app.example.com", "A", ["52.1.2.3"]), scopes=[*COMPLETE[1:], recent],
                     history_loader=history(GONE_SERVER))  # fmt: skip
    assert len(evaluate(DANGLING, inventory)) == 1


def test_a_failing_probe_scope_does_not_make_ownership_unknown() -> None:
    scopes = [*COMPLETE, probe_scope("server", status="failed", last_complete=None)]
    inventory = view(record("app.example.com", "A", ["52.1.2.3"]), scopes=scopes,
                     history_loader=history(GONE_SERVER))  # fmt: skip
    assert len(evaluate(DANGLING, inventory)) == 1


# -- does not resolve (the probe) ---------------------------------------------------------


def test_cname_whose_target_is_nxdomain_is_dangling_on_the_inventory_record() -> None:
    cname = record("gone.example.com", "CNAME", ["old-app.herokudns.com"])
    probe = probe_record("gone.example.com", chain=["old-app.herokudns.com"], nxdomain=True)
    found = one(evaluate(DANGLING, view(cname, probe)))
    assert found.resource_uid == cname.uid  # one finding, on the record, not on the probe
    assert found.title == (
        "DNS record gone.example.com CNAME points at old-app.herokudns.com, which does not "
        "exist (NXDOMAIN)"
    )


def test_a_probed_name_that_no_inventory_record_holds_is_judged_on_the_probe_record() -> None:
    probe = probe_record("gone.example.test", chain=["old-app.herokudns.test"], nxdomain=True)
    assert one(evaluate(DANGLING, view(probe))).resource_uid == probe.uid


def test_a_name_that_itself_does_not_exist_or_has_no_addresses_is_not_dangling() -> None:
    missing = probe_record("missing.example.test", nxdomain=True)  # nothing to take over
    no_data = probe_record("nodata.example.test", chain=["target.example.test"])
    assert evaluate(DANGLING, view(missing, no_data)) == []


def test_a_cname_that_resolves_is_not_dangling() -> None:
    cname = record("www.example.com", "CNAME", ["app.example.net"])
    probe = probe_record("www.example.com", chain=["app.example.net"], addresses=["192.0.2.1"])
    assert evaluate(DANGLING, view(cname, probe)) == []


def test_a_probe_that_did_not_answer_leaves_the_record_undecided() -> None:
    cname = record("gone.example.com", "CNAME", ["old-app.herokudns.com"])
    # A timeout carries the last known answer forward, marked unreachable: not evidence.
    stale = probe_record("gone.example.com", chain=["old-app.herokudns.com"], nxdomain=True,
                         reachable=False)  # fmt: skip
    inventory = view(cname, stale)
    assert evaluate(DANGLING, inventory) == []
    assert unjudged(inventory, cname.uid)


def test_an_unknown_probe_scope_leaves_the_record_undecided() -> None:
    cname = record("gone.example.com", "CNAME", ["old-app.herokudns.com"])
    probe = probe_record("gone.example.com", chain=["old-app.herokudns.com"], nxdomain=True)
    failed = probe_scope(status="failed", last_complete=NOW - timedelta(hours=2))
    inventory = view(cname, probe, scopes=[*COMPLETE, failed])
    assert evaluate(DANGLING, inventory) == []
    assert unjudged(inventory, cname.uid)


def test_cname_to_a_name_no_record_of_our_zone_holds_does_not_resolve() -> None:
    cname = record("a.example.com", "CNAME", ["gone.example.com"])
    found = one(evaluate(DANGLING, view(zone(), cname)))
    assert found.evidence["reasons"] == {
        "gone.example.com": "does not exist in zone example.com (NXDOMAIN)"
    }


def test_a_name_delegated_out_of_our_zone_is_not_ours_to_answer_for() -> None:
    cname = record("a.example.com", "CNAME", ["app.dev.example.com"])
    delegation = record("dev.example.com", "NS", ["ns-1.awsdns-01.org"])
    assert evaluate(DANGLING, view(zone(), cname, delegation)) == []


def test_a_name_in_our_zone_is_unknown_while_record_scopes_are_unknown() -> None:
    cname = record("a.example.com", "CNAME", ["gone.example.com"])
    failed = scope_state("dns_record", region="global", status="failed", last_complete=None)
    inventory = view(zone(), cname, scopes=[scope_state("server"), failed])
    assert evaluate(DANGLING, inventory) == []
    assert unjudged(inventory, cname.uid)


# -- cloud names --------------------------------------------------------------------------


def test_cname_to_a_deleted_load_balancer_of_ours_is_dangling() -> None:
    target = "old-lb-9.us-east-1.elb.amazonaws.com"
    inventory = view(load_balancer(), record("www.example.com", "CNAME", [target + "."]),
                     history_loader=history(GONE_LB))  # fmt: skip
    found = one(evaluate(DANGLING, inventory))
    assert found.evidence["targets"] == [target + "."]


def test_cname_to_another_teams_load_balancer_is_not_judged() -> None:
    theirs = record("partner.example.com", "CNAME", ["their-lb-1.us-east-1.elb.amazonaws.com"])
    inventory = view(load_balancer(), theirs, history_loader=history(GONE_LB))
    assert evaluate(DANGLING, inventory) == []
    assert not unjudged(inventory, theirs.uid)


def test_cname_to_a_present_load_balancer_or_database_is_fine() -> None:
    inventory = view(
        load_balancer(),
        database(),
        record("www.example.com", "CNAME", ["web-lb-123.us-east-1.elb.amazonaws.com."]),
        record("db.example.com", "CNAME", ["db-1.abc123.us-east-1.rds.amazonaws.com"]),
        history_loader=history(GONE_LB),
    )
    assert evaluate(DANGLING, inventory) == []


def test_alias_to_dualstack_name_of_a_load_balancer() -> None:
    present = record(
        "example.com", "A", alias_target="dualstack.web-lb-123.us-east-1.elb.amazonaws.com."
    )
    gone = record(
        "old.example.com", "A", alias_target="dualstack.old-lb-9.us-east-1.elb.amazonaws.com."
    )
    inventory = view(load_balancer(), present, gone, history_loader=history(GONE_LB))
    assert one(evaluate(DANGLING, inventory)).resource_uid == gone.uid


def test_elb_names_are_unknown_while_load_balancer_scopes_are_unknown() -> None:
    cname = record("www.example.com", "CNAME", ["old-lb-9.us-east-1.elb.amazonaws.com"])
    failed = scope_state("load_balancer", status="failed", last_complete=None)
    for scopes in ([scope_state("server")], [scope_state("server"), failed]):
        inventory = view(cname, scopes=scopes, history_loader=history(GONE_LB))
        assert evaluate(DANGLING, inventory) == []
        assert unjudged(inventory, cname.uid)


def test_cloud_names_vigil_does_not_collect_are_judged_by_history_alone() -> None:
    heroku = record("shop.example.com", "CNAME", ["shop-123.herokuapp.com"])
    assert evaluate(DANGLING, view(heroku, scopes=[])) == []
    held = server("i-old", hostname="shop-123.herokuapp.com")
    assert len(evaluate(DANGLING, view(heroku, scopes=[], history_loader=history(held)))) == 1


def test_unknown_domains_are_judged_by_history_only_when_asked() -> None:
    docs = record("docs.example.com", "CNAME", ["acme.github.io"])
    held = server("i-old", public_dns_name="acme.github.io")
    inventory = view(zone(), docs, history_loader=history(held))
    assert evaluate(DANGLING, inventory) == []
    assert len(evaluate(DANGLING, inventory, judge_unknown_domains=True)) == 1
    assert (
        evaluate(DANGLING, inventory, judge_unknown_domains=True, external_domains=["github.io"])
        == []
    )


def test_cname_to_a_present_record_or_wildcard_is_fine() -> None:
    inventory = view(
        zone(),
        record("a.example.com", "CNAME", ["b.example.com"]),
        record("b.example.com", "A", ["10.0.0.1"]),
        record("c.example.com", "CNAME", ["x.apps.example.com"]),
        record("*.apps.example.com", "A", ["10.0.0.2"]),
    )
    assert evaluate(DANGLING, inventory, judge_unknown_domains=True) == []


def test_other_record_types_are_not_judged() -> None:
    inventory = view(record("example.com", "MX", ["10 mail.gone.example.com"]), zone())
    assert evaluate(DANGLING, inventory) == []


def test_cname_to_a_deleted_distribution_of_ours_dangles_and_a_present_one_is_fine() -> None:
    live = resource("cdn", "E1", region="global", domain_name="d111.cloudfront.net")
    gone = resource("cdn", "E0", region="global", domain_name="d000.cloudfront.net")
    inventory = view(
        live,
        record("cdn.example.com", "CNAME", ["d111.cloudfront.net"]),
        record("old-cdn.example.com", "CNAME", ["d000.cloudfront.net"]),
        record("vendor.example.com", "CNAME", ["d999.cloudfront.net"]),  # not ours
        history_loader=history(gone),
    )
    assert one(evaluate(DANGLING, inventory)).evidence["targets"] == ["d000.cloudfront.net"]


def _bucket(name: str) -> Resource:
    return resource("bucket", name, dns_names=endpoint_names(name, "eu-west-1"))


def test_cname_to_a_deleted_buckets_website_dangles_and_a_present_one_is_fine() -> None:
    website = "{}.s3-website-eu-west-1.amazonaws.com"
    inventory = view(
        _bucket("assets"),
        record("assets.example.com", "CNAME", [website.format("assets")]),
        record("old.example.com", "CNAME", [website.format("old-assets")]),
        record("vendor.example.com", "CNAME", [website.format("their-bucket")]),  # not ours
        history_loader=history(_bucket("old-assets")),
    )
    found = one(evaluate(DANGLING, inventory))
    assert found.evidence["targets"] == ["old-assets.s3-website-eu-west-1.amazonaws.com"]


def test_bucket_names_are_unknown_while_bucket_scopes_are_unknown() -> None:
    cname = record("old.example.com", "CNAME", ["old-assets.s3.amazonaws.com"])
    failed = scope_state("bucket", region="global", status="failed", last_complete=None)
    inventory = view(cname, scopes=[scope_state("server"), failed],
                     history_loader=history(_bucket("old-assets")))  # fmt: skip
    assert evaluate(DANGLING, inventory) == []
    assert unjudged(inventory, cname.uid)
