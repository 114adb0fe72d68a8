"""Severity escalation: a finding whose resource is reachable from a public entry point is one
step more severe (for the rules that escalate), and a change of effective severity fires."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from storage.db import Database
from storage.exposure import entry_points
from storage.findings import FindingQuery, FindingStore
from tests.factories import scope
from tests.factories.storage import scan
from tests.storage.test_exposure import CERT, PRIVATE, WEB, _balancer, build_estate
from tests.storage.test_reconcile import FakeClock
from vigil.app.check import run_check
from vigil.app.config import load_config, parse_config
from vigil.core.errors import ConfigError
from vigil.core.model import utcnow
from vigil.core.transitions import TransitionKind


def open_ports(db: Database) -> dict[str, tuple[str, str]]:
    """native id → (severity, base_severity) of the open network.open_port findings."""
    query = FindingQuery(rules=("network.open_port",))
    return {
        f.native_id: (f.to_dict()["severity"], f.to_dict()["base_severity"])
        for f in FindingStore(db).findings(query)
    }


def test_an_exposed_open_port_is_one_step_more_severe(db: Database) -> None:
    build_estate(db, clock=utcnow)

    run_check(db)

    assert open_ports(db) == {
        "sg-web": ("critical", "high"),  # shop.example.com → cdn → alb → i-web → sg-web
        "sg-private": ("high", "high"),  # behind an internal load balancer only
        "sg-legacy": ("high", "high"),  # links unknown: never escalated
    }


def test_an_exposed_disk_without_backup_escalates_and_an_expiring_certificate_does_not(
    db: Database,
) -> None:
    build_estate(db, clock=utcnow)

    run_check(db)

    found = {f.rule: f.to_dict() for f in FindingStore(db).findings()}
    assert (found["backup.missing"]["native_id"], found["backup.missing"]["severity"]) == (
        "vol-web",
        "critical",
    )
    assert found["backup.missing"]["base_severity"] == "high"
    # The certificate is served by an internet-facing load balancer, but cert.expiring does
    # not escalate unless asked to.
    with db.connect() as conn:
        assert entry_points(conn, [CERT])[CERT]
    assert (found["cert.expiring"]["severity"], found["cert.expiring"]["base_severity"]) == (
        "medium",
        "medium",
    )


def test_a_change_of_effective_severity_is_a_firing_transition(db: Database) -> None:
    reconciler = build_estate(db, clock=utcnow)
    run_check(db)
    balancers = scope(type_="load_balancer")
    now = utcnow()
    reconciler.clock = FakeClock(now)
    # web-prod turns internal and the CDN goes: sg-web is no longer exposed.
    internal = [
        _balancer("web-prod", balancers, "internal", WEB),
        _balancer("api-internal", balancers, "internal", PRIVATE),
    ]
    scan(reconciler, balancers, [internal])
    scan(reconciler, scope(type_="cdn", region="global"), [[]])
    scan(reconciler, scope(type_="dns_record", region="global"), [[]])

    result = run_check(db, now=now + timedelta(seconds=30))

    kinds = {t.finding.native_id: t.kind for t in result.transitions}
    assert kinds["sg-web"] == TransitionKind.SEVERITY_CHANGED
    assert kinds["sg-private"] == TransitionKind.STILL_OPEN
    assert open_ports(db)["sg-web"] == ("high", "high")


def test_escalate_when_exposed_false_keeps_the_rules_severity(db: Database) -> None:
    build_estate(db, clock=utcnow)
    config = parse_config(
        {"rules": {"params": {"network.open_port": {"escalate_when_exposed": False}}}}
    )

    run_check(db, config)

    assert open_ports(db)["sg-web"] == ("high", "high")


def test_only_open_port_and_backup_missing_escalate_by_default() -> None:
    config = parse_config({"rules": {"params": {"cert.expiring": {"escalate_when_exposed": True}}}})
    rules = config.rules
    assert rules.escalates("network.open_port") and rules.escalates("backup.missing")
    assert not rules.escalates("bucket.public") and not rules.escalates("dns.dangling")
    assert rules.escalates("cert.expiring")  # asked for


def test_escalate_when_exposed_must_be_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text("rules:\n  params:\n    network.open_port:\n      escalate_when_exposed: 3\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert "vigil.yaml" in str(raised.value) and ":4" in str(raised.value)
    assert "escalate_when_exposed must be true or false, not 3" in str(raised.value)
