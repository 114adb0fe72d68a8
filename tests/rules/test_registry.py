"""The registry contract: every built-in rule is complete, and config problems are named."""

from __future__ import annotations

import inspect

import pytest

from rules.base import Rule
from rules.compliance import CATALOG, unknown_controls
from rules.config import RulesConfig
from rules.registry import BUILTIN_RULES, builtin_rules, check_rules_config
from vigil.core.model import ResourceType, Severity

KNOWN_TYPES = {t.value for t in ResourceType}
# Rules whose subject is not a cloud resource the frameworks speak about.
NO_COMPLIANCE_NEEDED: set[str] = set()


@pytest.mark.parametrize("rule", builtin_rules(), ids=lambda r: r.id)
def test_every_builtin_rule_honours_the_contract(rule: Rule) -> None:
    assert inspect.getdoc(rule), "a docstring users read in `vigil rules show`"
    assert rule.title and rule.remediation
    assert isinstance(rule.severity, Severity)
    assert set(rule.resource_types) <= KNOWN_TYPES
    assert rule.resource_types or rule.id == "collector.failing"
    rule.params_model.model_validate({})  # every param has a default
    assert set(rule.compliance) <= set(CATALOG), "versioned framework ids (rules.compliance)"
    for framework, controls in rule.compliance.items():
        assert not unknown_controls(framework, controls), "controls the catalog lists"
    assert all(rule.compliance.values()), "no empty control lists"
    if rule.id not in NO_COMPLIANCE_NEEDED:
        assert rule.compliance, "map the rule to the controls it evidences"


def test_design_rule_ids_are_registered() -> None:
    assert set(BUILTIN_RULES) >= {
        "cert.expiring", "cert.expired", "cert.invalid", "backup.missing", "backup.stale",
        "network.open_port", "network.port_exposed", "dns.dangling", "drift.changed",
        "drift.unmanaged", "drift.missing", "collector.failing",
    }  # fmt: skip


def test_check_rules_config_names_unknown_ids_and_bad_params() -> None:
    config = RulesConfig(
        disable=["cert.expired", "nope.rule"],
        severity={"ghost.rule": Severity.LOW},
        params={
            "cert.expiring": {"warn_days": "soon", "colour": "red"},
            "backup.stale": {"default_rpo": "7d"},
            "missing.rule": {},
        },
    )
    problems = dict(check_rules_config(config))
    assert "unknown rule 'nope.rule'" in problems[("disable", 1)]
    assert "unknown rule 'ghost.rule'" in problems[("severity", "ghost.rule")]
    assert "unknown rule 'missing.rule'" in problems[("params", "missing.rule")]
    assert "integer" in problems[("params", "cert.expiring", "warn_days")]
    assert "warn_days" in problems[("params", "cert.expiring", "colour")]
    assert len(problems) == 5


def test_valid_rules_config_has_no_problems() -> None:
    config = RulesConfig(params={"network.open_port": {"sensitive_ports": [22]}})
    assert check_rules_config(config) == []
