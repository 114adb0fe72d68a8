"""The engine: disable, severity overrides, params validation, labels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.config import RulesConfig
from rules.engine import Engine
from tests.factories.rules import certificate, disk, view
from vigil.core.errors import ConfigError
from vigil.core.model import Severity


def run(config: RulesConfig, *resources) -> dict[str, list]:
    found: dict[str, list] = {}
    for item in Engine.from_config(config).evaluate(view(*resources)).findings:
        found.setdefault(item.rule, []).append(item)
    return found


def test_disabled_rules_do_not_run() -> None:
    found = run(RulesConfig(disable=["backup.missing"]), disk())
    assert "backup.missing" not in found


def test_severity_override_applies_to_every_finding_of_the_rule() -> None:
    found = run(RulesConfig(severity={"backup.missing": Severity.CRITICAL}), disk())
    assert found["backup.missing"][0].severity is Severity.CRITICAL
    assert found["backup.missing"][0].labels["severity"] == "critical"


def test_params_come_from_config() -> None:
    cert = certificate(expires_in=timedelta(days=45))
    assert "cert.expiring" not in run(RulesConfig(), cert)
    assert "cert.expiring" in run(RulesConfig(params={"cert.expiring": {"warn_days": 60}}), cert)


def test_invalid_params_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"rules.params.cert.expiring.warn_days"):
        Engine.from_config(RulesConfig(params={"cert.expiring": {"warn_days": "x"}}))


def test_unknown_rule_in_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown rule 'nope'"):
        Engine.from_config(RulesConfig(disable=["nope"]))


def test_findings_carry_routing_labels() -> None:
    volume = disk(tags={"owner": "ann", "team": "storage", "cost": "x"})
    (found,) = run(RulesConfig(), volume)["backup.missing"]
    assert found.labels == {
        "provider": "aws", "account": "111111111111", "region": "us-east-1", "type": "disk",
        "source": "aws-test", "owner": "ann", "team": "storage", "rule": "backup.missing",
        "severity": "high",
    }  # fmt: skip
