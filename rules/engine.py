"""The engine: enabled rules with their validated params, run over one InventoryView."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from rules.base import Rule
from rules.config import RulesConfig, own_params
from rules.registry import all_rules
from rules.view import InventoryView
from vigil.core.canonical import canonical_json
from vigil.core.errors import ConfigError
from vigil.core.model import Finding, Severity


@dataclass(frozen=True)
class EnabledRule:
    """A rule as configured: its params (an instance of its params model) and any severity
    override from `rules.severity`."""

    rule: Rule
    params: Any
    severity: Severity | None = None
    escalate: bool = False
    """`escalate_when_exposed`: the check raises the severity of exposed resources' findings."""


@dataclass
class Evaluation:
    """What one evaluation produced: one finding per fingerprint, and where time went."""

    findings: list[Finding]
    rules: list[str]
    seconds: float
    per_rule_seconds: dict[str, float] = field(default_factory=dict)
    unjudged: frozenset[str] = frozenset()
    """Fingerprints the rules could not judge (unknown inputs): stored findings keep status."""
    params: dict[str, str] = field(default_factory=dict)
    """Every enabled rule → the digest of its params (`params_digest`)."""


class Engine:
    """Runs enabled rules over a view. Build it with `Engine.from_config`."""

    def __init__(self, enabled: Sequence[EnabledRule]) -> None:
        self.enabled = list(enabled)

    @classmethod
    def from_config(
        cls, config: RulesConfig | None = None, rules: Sequence[Rule] | None = None
    ) -> Engine:
        """Built-in and pack rules minus `disable`, with params and severity from config."""
        config = config or RulesConfig()
        rules = list(rules) if rules is not None else all_rules(config)
        known = {rule.id for rule in rules}
        checked = config._parsed is not None  # at config load, with file and line
        for rule_id in [] if checked else [*config.disable, *config.severity, *config.params]:
            if rule_id not in known:
                raise ConfigError(
                    f"rules: unknown rule {rule_id!r}", fix="`vigil rules list` shows every id"
                )
        parsed = config._parsed.params if config._parsed is not None else {}
        enabled = [
            EnabledRule(
                rule,
                # A copy: an engine fills in what it fetches (remote Terraform state).
                parsed[rule.id].model_copy(deep=True)
                if rule.id in parsed
                else _params(rule, config),
                config.severity.get(rule.id),
                config.escalates(rule.id),
            )
            for rule in rules
            if rule.id not in config.disable
        ]
        return cls(enabled)

    def check_inputs(self) -> None:
        """Read every input file the enabled rules depend on (Terraform state), so that a
        bad one fails before anything opens the database. A rule opts in by defining
        `check_inputs(params)`, which raises InputError naming the file."""
        for item in self.enabled:
            check = getattr(item.rule, "check_inputs", None)
            if check is not None:
                check(item.params)

    def params_of(self, rule_id: str) -> Any | None:
        """The validated params of an enabled rule; None when it is disabled or unknown."""
        return next((item.params for item in self.enabled if item.rule.id == rule_id), None)

    @property
    def escalating(self) -> frozenset[str]:
        """Enabled rules whose findings escalate when their resource is exposed."""
        return frozenset(item.rule.id for item in self.enabled if item.escalate)

    @property
    def rule_ids(self) -> list[str]:
        return [item.rule.id for item in self.enabled]

    def params_digests(self) -> dict[str, str]:
        """Every enabled rule → the digest of its validated params (defaults included, so
        writing a default out changes nothing): a finding remembers the params it was found
        with, and a check with other params resolves what they no longer find as
        rule_disabled."""
        return {item.rule.id: params_digest(item.params) for item in self.enabled}

    def evaluate(self, view: InventoryView) -> Evaluation:
        """Every enabled rule over the view. Rules raise InputError for bad input files."""
        started = time.perf_counter()
        by_fingerprint: dict[str, Finding] = {}
        timings: dict[str, float] = {}
        for item in self.enabled:
            rule_started = time.perf_counter()
            for found in item.rule.evaluate(view, item.params):
                _finalize(found, item.severity)
                kept = by_fingerprint.get(found.fingerprint)
                # One finding per rule and resource: keep the most severe if a rule repeats.
                if kept is None or found.severity.rank > kept.severity.rank:
                    by_fingerprint[found.fingerprint] = found
            timings[item.rule.id] = time.perf_counter() - rule_started
        return Evaluation(
            findings=list(by_fingerprint.values()),
            rules=self.rule_ids,
            seconds=time.perf_counter() - started,
            per_rule_seconds=timings,
            unjudged=frozenset(view.unjudged - by_fingerprint.keys()),
            params=self.params_digests(),
        )


def params_digest(params: Any) -> str:
    """A short, stable digest of a rule's params (a pydantic model, or None)."""
    dumped = params.model_dump(mode="json") if isinstance(params, BaseModel) else params
    return hashlib.sha256(canonical_json(dumped).encode()).hexdigest()[:16]


def _params(rule: Rule, config: RulesConfig) -> Any:
    try:
        return rule.params_model.model_validate(own_params(config.params.get(rule.id, {})))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"rules.params.{rule.id}{'.' + where if where else ''}: {message}"
        ) from None


def _finalize(found: Finding, override: Severity | None) -> None:
    if override is not None:
        found.severity = override
    found.labels["rule"] = found.rule
    found.labels["severity"] = found.severity.value
