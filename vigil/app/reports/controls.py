"""Results per control: which rules stand behind each control, and whether it held.

A control of a framework is backed by every rule whose `compliance` mapping names it; it
carries its title from the compliance catalog (rules/compliance_catalog.yaml). Its status
at the report time:

- `fail`: a backing rule has an open finding (silenced ones are accepted exceptions);
- `not_evaluated`: every backing rule is disabled, no check has recorded results, no scope
  of the rules' resource types was collected, or one of those scopes is incomplete; an
  incomplete scope is never counted as compliant;
- `pass`: otherwise, with the accepted exceptions listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rules.compliance import ALIASES, Controls, control_title
from rules.config import RulesConfig
from rules.registry import all_rules
from storage.runs import ScopeSummary

if TYPE_CHECKING:
    from vigil.app.reports.contents import ReportFinding

PASS, FAIL, NOT_EVALUATED = "pass", "fail", "not_evaluated"


@dataclass(frozen=True)
class RuleInfo:
    """A rule's metadata as a report shows it."""

    id: str
    title: str
    severity: str
    remediation: str
    resource_types: tuple[str, ...]
    compliance: Controls
    enabled: bool = True

    @classmethod
    def unknown(cls, rule_id: str) -> RuleInfo:
        """A rule that left the registry (a removed pack) but still has findings."""
        return cls(rule_id, rule_id, "", "", (), {}, enabled=False)

    def control_labels(self, frameworks: Sequence[str]) -> tuple[str, ...]:
        """`soc2-2017 CC7.1`-style labels of the controls this rule backs in `frameworks`."""
        return tuple(f"{fw} {c}" for fw in frameworks for c in self.compliance.get(fw, ()))


def rule_catalog(config: RulesConfig | None = None) -> dict[str, RuleInfo]:
    """Built-in and pack rules by id, marked disabled as the config says."""
    disabled = set(config.disable) if config else set()
    return {
        rule.id: RuleInfo(
            id=rule.id,
            title=rule.title,
            severity=rule.severity.value,
            remediation=rule.remediation,
            resource_types=tuple(rule.resource_types),
            # A third-party rule may still name a framework by its old, unversioned id.
            compliance={ALIASES.get(fw, fw): ids for fw, ids in rule.compliance.items()},
            enabled=rule.id not in disabled,
        )
        for rule in all_rules(config)
    }


@dataclass
class ControlResult:
    """One control of one framework at the report time."""

    framework: str
    control: str
    status: str
    rules: tuple[str, ...]
    reason: str
    failing: list[ReportFinding] = field(default_factory=list)
    excepted: list[ReportFinding] = field(default_factory=list)
    incomplete_scopes: tuple[str, ...] = ()
    title: str = ""
    """The control's title in its framework's document, from the compliance catalog."""

    @property
    def resources(self) -> list[str]:
        """The resources behind a failure, each once."""
        return sorted({f.finding.resource_uid for f in self.failing})

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "control": self.control,
            "title": self.title,
            "status": self.status,
            "reason": self.reason,
            "rules": list(self.rules),
            "open_findings": len(self.failing),
            "accepted_exceptions": len(self.excepted),
            "resources": self.resources,
            "findings": [f.finding.fingerprint for f in self.failing],
            "incomplete_scopes": list(self.incomplete_scopes),
        }


def evaluate_controls(
    frameworks: Sequence[str],
    catalog: Mapping[str, RuleInfo],
    findings: Sequence[ReportFinding],
    scopes: Sequence[ScopeSummary],
    last_check: datetime | None,
) -> list[ControlResult]:
    """Every control of `frameworks` that a rule maps to, in framework and control order."""
    by_rule: dict[str, list[ReportFinding]] = {}
    for found in findings:
        by_rule.setdefault(found.finding.rule, []).append(found)
    results = []
    for framework in frameworks:
        for control, rule_ids in _controls(framework, catalog):
            rules = [catalog[r] for r in rule_ids]
            results.append(_judge(framework, control, rules, by_rule, scopes, last_check))
    return results


def _controls(framework: str, catalog: Mapping[str, RuleInfo]) -> list[tuple[str, list[str]]]:
    mapped: dict[str, list[str]] = {}
    for info in catalog.values():
        for control in info.compliance.get(framework, ()):
            mapped.setdefault(control, []).append(info.id)
    return sorted(mapped.items(), key=lambda item: _natural(item[0]))


def _natural(text: str) -> list[Any]:
    """`A.8.9` before `A.8.16`: numbers compare as numbers."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def _judge(
    framework: str,
    control: str,
    rules: list[RuleInfo],
    by_rule: Mapping[str, list[ReportFinding]],
    scopes: Sequence[ScopeSummary],
    last_check: datetime | None,
) -> ControlResult:
    ids = tuple(r.id for r in rules)
    enabled = [r for r in rules if r.enabled]
    behind = [f for r in rules for f in by_rule.get(r.id, ())]
    failing = [f for f in behind if f.status.value == "open"]
    excepted = [f for f in behind if f.status.value == "silenced"]
    relevant = [s for s in scopes if any(_covers(r, s) for r in enabled)]
    incomplete = tuple(s.scope_key for s in relevant if s.incomplete)
    result = ControlResult(
        framework,
        control,
        PASS,
        ids,
        "",
        failing,
        excepted,
        incomplete,
        title=control_title(framework, control),
    )
    if failing:
        result.status = FAIL
        result.reason = _plural(len(failing), "open finding") + _incomplete_note(incomplete)
    elif not enabled:
        result.status, result.reason = NOT_EVALUATED, "every rule behind it is disabled"
    elif last_check is None:
        result.status, result.reason = NOT_EVALUATED, "no check has recorded results yet"
    elif not relevant:
        result.status = NOT_EVALUATED
        result.reason = "nothing of the types its rules judge has been collected"
    elif incomplete:
        result.status = NOT_EVALUATED
        result.reason = (
            f"{_plural(len(incomplete), 'scope')} incomplete: "
            + ", ".join(incomplete[:5])
            + (" ..." if len(incomplete) > 5 else "")
        )
    else:
        result.reason = "no open findings"
        if excepted:
            result.reason += f"; {_plural(len(excepted), 'accepted exception')}"
    return result


def _covers(rule: RuleInfo, scope: ScopeSummary) -> bool:
    # A rule without resource types (collector health) judges every scope.
    return not rule.resource_types or scope.type in rule.resource_types


def _incomplete_note(incomplete: tuple[str, ...]) -> str:
    if not incomplete:
        return ""
    return f" (and {_plural(len(incomplete), 'scope')} incomplete)"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
