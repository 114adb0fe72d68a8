"""The `rules:` block of vigil.yaml: which rules run, with what severity and params."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr

from vigil.core.model import Severity
from vigil.core.schema import EnvStr, StrictModel


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
