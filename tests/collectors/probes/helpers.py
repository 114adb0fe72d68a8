"""Factories for probe tests: configs, collectors, and one scope's resources by native id."""

from __future__ import annotations

from typing import Any

from collectors.probes import ProbeCollector, ProbeInventory
from collectors.probes.config import ProbeSourceConfig
from vigil.core.model import Resource


def probe_config(**settings: Any) -> ProbeSourceConfig:
    """A probe source named `edge` with short timeouts, plus `settings`."""
    return ProbeSourceConfig.model_validate({"name": "edge", "timeout": "2s", **settings})


def collect(
    kind: str, inventory: ProbeInventory | None = None, **settings: Any
) -> dict[str, Resource]:
    """Plan and collect one probe kind; resources by native id."""
    collector = ProbeCollector(probe_config(**settings), inventory=inventory)
    (scope,) = collector.plan({kind})
    return {r.native_id: r for page in collector.collect(scope) for r in page}
