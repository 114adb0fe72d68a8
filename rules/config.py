"""The `rules:` block of vigil.yaml: which rules run, with what severity and params."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, PrivateAttr

from vigil.core.model import Severity
from vigil.core.schema import EnvStr, StrictModel

ESCALATE = "escalate_when_exposed"
"""A param every rule takes: raise the severity one step when the resource is reachable from a
public entry point (DESIGN.md → Severity). Not part of the rule's own params model."""
ESCALATED_BY_DEFAULT = frozenset({"network.open_port", "backup.missing"})


def own_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A rule's params without the ones every rule takes."""
    return {key: value for key, value in params.items() if key != ESCALATE}


def escalation_problem(params: Mapping[str, Any]) -> str | None:
    value = params.get(ESCALATE)
    if value is None or isinstance(value, bool):
        return None
    return f"{ESCALATE} must be true or false, not {value!r}"


class RulesConfig(StrictModel):
    """Which rules run and how.

    ```yaml
    rules:
      disable: [drift.changed]
      severity: {backup.stale: high}
      params:
        cert.expiring: {warn_days: 30, critical_days: 7}
    ```
    """

    disable: list[str] = Field(default_factory=list)
    severity: dict[str, Severity] = Field(default_factory=dict)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    packs: list[EnvStr] = Field(
        default_factory=list, description="Directories or files of YAML rule packs."
    )
    _parsed: Any = PrivateAttr(default=None)
    """The rules and validated params, set once by `rules.registry.check_rules_config`."""

    def escalates(self, rule_id: str) -> bool:
        """Whether `rule_id`'s findings escalate when exposed (`escalate_when_exposed`)."""
        value = self.params.get(rule_id, {}).get(ESCALATE)
        return value if isinstance(value, bool) else rule_id in ESCALATED_BY_DEFAULT
