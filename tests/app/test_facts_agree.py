"""One estate, every stage: the rules, /metrics and the dashboard's data tell the same expiry.

A certificate's expiry is the earliest of its leaf's and its chain's `not_after`
(vigil.core.facts); before this was told once, an endpoint whose leaf lasts 300 days on an
intermediate expiring in 3 raised `cert.expiring` while /metrics and the dashboard said 300.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from storage import inventory
from storage.db import Database
from storage.reconcile import Reconciler
from tests import factories
from vigil.app.check import run_check
from vigil.app.metrics import VigilCollector
from vigil.core.model import Resource, iso, utcnow

CERTS = factories.scope(type_="certificate", region="global", provider="probe", source="edge")


def certificate(native_id: str, leaf: datetime, chain: datetime | None) -> Resource:
    attributes = {"not_after": iso(leaf), "server_name": native_id.split(":")[0]}
    if chain is not None:
        attributes["chain_not_after"] = iso(chain)
    return factories.resource(native_id, within=CERTS, **attributes)


def test_rule_metrics_and_dashboard_agree_on_every_certificates_expiry(
    db: Database,
) -> None:
    now = utcnow().replace(microsecond=0)
    estate = {
        "chain-first.example.com:443": (now + timedelta(days=300), now + timedelta(days=3)),
        "leaf-first.example.com:443": (now + timedelta(days=5), now + timedelta(days=200)),
        "no-chain.example.com:443": (now + timedelta(days=20), None),
    }
    reconciler = Reconciler(db)
    run = reconciler.start(CERTS)
    reconciler.add_page(run, [certificate(n, leaf, chain) for n, (leaf, chain) in estate.items()])
    reconciler.complete(run)
    expected = {name: min(t for t in times if t is not None) for name, times in estate.items()}

    findings = run_check(db, now=now).findings
    by_rule = {f.native_id: f for f in findings if f.rule == "cert.expiring"}
    assert set(by_rule) == set(expected)  # all three within the default 30 days
    for name, when in expected.items():
        assert by_rule[name].evidence["days_left"] == (when - now).days, name

    collector = VigilCollector(db)
    collector.refresh()
    exposition = collector.exposition().decode()
    series = {
        sample.labels["id"]: sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "vigil_certificate_not_after_seconds"
        for sample in family.samples
    }
    assert series == {name: when.timestamp() for name, when in expected.items()}

    rows = {row["native_id"]: row for row in inventory.expiring_certificates(db, now)}
    for name, when in expected.items():
        assert rows[name]["days_left"] == (when - now).total_seconds() / 86400, name
    soon = inventory.expiring_certificates(db, now, within_days=4)
    assert [row["native_id"] for row in soon] == ["chain-first.example.com:443"]
