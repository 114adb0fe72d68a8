"""The registry of built-in rules: an explicit map, id → rule class. No filesystem walking.

Adding a rule is one class in its family's module and one line in `_BUILTIN` below; the
contract test in tests/rules/test_registry.py then checks its metadata and that it has tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from rules.availability import SingleZone, UnhealthyTargets
from rules.backup import BackupMissing, BackupStale, RestoreUntested
from rules.base import Rule
from rules.certificates import (
    CertificateExpired,
    CertificateExpiring,
    CertificateInvalid,
    CertificateNotServed,
)
from rules.config import ESCALATE, RulesConfig, escalation_problem, own_params
from rules.database import NoReplica, ReplicationBroken
from rules.disk import DiskFilling, DiskFull
from rules.dns import DanglingRecord
from rules.drift import AttributeChanged
from rules.encryption import UnencryptedAtRest, UnencryptedInTransit
from rules.exposure import PlaintextWeb, PublicExposure
from rules.health import CollectorFailing
from rules.lifecycle import FunctionRuntimeDeprecated, KubernetesUnsupported
from rules.network import OpenPort, PortExposed
from rules.packs import PackRule, load_packs
from rules.terraform import Missing, Unmanaged
from vigil.core import plugins
from vigil.core.errors import InputError

_BUILTIN: tuple[type[Rule], ...] = (
    CertificateExpiring,
    CertificateExpired,
    CertificateInvalid,
    CertificateNotServed,
    BackupMissing,
    BackupStale,
    RestoreUntested,
    OpenPort,
    PortExposed,
    DanglingRecord,
    AttributeChanged,
    Unmanaged,
    Missing,
    CollectorFailing,
    DiskFull,
    DiskFilling,
    SingleZone,
    UnhealthyTargets,
    PlaintextWeb,
    UnencryptedAtRest,
    UnencryptedInTransit,
    PublicExposure,
    KubernetesUnsupported,
    FunctionRuntimeDeprecated,
    ReplicationBroken,
    NoReplica,
)


def _register(classes: Sequence[type[Rule]]) -> dict[str, type[Rule]]:
    registry: dict[str, type[Rule]] = {}
    for cls in classes:
        rule_id = cls().id  # rules are cheap, stateless objects
        if rule_id in registry:
            raise RuntimeError(f"two rules claim the id {rule_id!r}: {registry[rule_id]} and {cls}")
        registry[rule_id] = cls
    return registry


_CONTRACT = (
    "id",
    "title",
    "severity",
    "resource_types",
    "params_model",
    "remediation",
    "compliance",
    "evaluate",
)


def rule_contract(cls: type[Rule]) -> str:
    """A plugin rule's id, once it is shown to have what every rule has (rules/base.py)."""
    rule = cls()
    missing = [name for name in _CONTRACT if not hasattr(rule, name)]
    if missing:
        raise TypeError(f"missing {', '.join(missing)}")
    if not isinstance(rule.id, str) or not rule.id:
        raise TypeError("its id must be a non-empty string")
    return rule.id


BUILTIN_RULES: dict[str, type[Rule]] = _register(_BUILTIN)
"""Every built-in rule, by id."""
RULE_OWNERS: dict[str, str] = dict.fromkeys(BUILTIN_RULES, plugins.BUILTIN)
"""Rule id → the package that provides it (built-ins, then plugins)."""
REGISTERED_RULES: dict[str, type[Rule]] = dict(BUILTIN_RULES)
"""The built-in rules and those of installed plugins (entry points `vigil.rules`)."""
plugins.register(
    REGISTERED_RULES,
    RULE_OWNERS,
    plugins.load(plugins.RULES),
    key_of=lambda cls: rule_contract(cls),
    entry_of=lambda cls: cls,
    what="rule",
)


def builtin_rules() -> list[Rule]:
    """One instance of each registered rule (built-in and plugin), in registry order."""
    return [cls() for cls in REGISTERED_RULES.values()]


def all_rules(config: RulesConfig | None = None) -> list[Rule]:
    """Built-in rules plus the rules of the packs the config lists (InputError if invalid)."""
    if config is not None and config._parsed is not None:
        return list(config._parsed.rules)  # parsed once, at config load
    rules = builtin_rules()
    if config is not None and config.packs:
        packs: list[PackRule] = load_packs(config.packs, reserved=set(REGISTERED_RULES))
        rules.extend(packs)
    return rules


@dataclass(frozen=True)
class ParsedRules:
    """The `rules:` block as checked at config load: every rule, and each rule's params."""

    rules: tuple[Rule, ...]
    params: dict[str, Any]


def find_rule(rule_id: str, rules: Sequence[Rule]) -> Rule:
    for rule in rules:
        if rule.id == rule_id:
            return rule
    raise InputError(f"unknown rule {rule_id!r}", fix="`vigil rules list` shows every rule id")


def check_rules_config(config: RulesConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems in the `rules:` block, as (location under `rules`, message).

    Unknown rule ids in disable/severity/params, and params that fail the rule's params
    model. Pack rule ids count as known; a pack that fails to load is reported at `packs`.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    rules: Sequence[Rule]
    try:
        rules = all_rules(config)
    except InputError as exc:
        problems.append((("packs",), exc.message))
        rules = builtin_rules()
    known = {rule.id: rule for rule in rules}
    parsed: dict[str, Any] = {}
    hint = "`vigil rules list` shows every rule id"
    for index, rule_id in enumerate(config.disable):
        if rule_id not in known:
            problems.append((("disable", index), f"unknown rule {rule_id!r}; {hint}"))
    for rule_id in config.severity:
        if rule_id not in known:
            problems.append((("severity", rule_id), f"unknown rule {rule_id!r}; {hint}"))
    for rule_id, params in config.params.items():
        if rule_id not in known:
            problems.append((("params", rule_id), f"unknown rule {rule_id!r}; {hint}"))
            continue
        problem = escalation_problem(params)
        if problem:
            problems.append((("params", rule_id, ESCALATE), problem))
        try:
            parsed[rule_id] = known[rule_id].params_model.model_validate(own_params(params))
        except ValidationError as exc:
            for error in exc.errors():
                loc = ("params", rule_id, *error["loc"])
                message = error["msg"].removeprefix("Value error, ")
                if error["type"] == "extra_forbidden":
                    names = ", ".join([*known[rule_id].params_model.model_fields, ESCALATE])
                    message = f"unknown parameter; {rule_id} takes: {names}"
                problems.append((loc, message))
    if not problems:
        for rule in rules:
            if rule.id not in parsed:
                parsed[rule.id] = rule.params_model.model_validate({})
        config._parsed = ParsedRules(tuple(rules), parsed)
    return problems
