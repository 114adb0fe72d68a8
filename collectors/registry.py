"""The explicit map of source providers to collectors. A new source family is one line here."""

from __future__ import annotations

from collectors.aws import AwsCollector
from collectors.base import CollectorFactory, SourceConfig
from collectors.hosts import HostsCollector
from collectors.libcloud import LibcloudCollector
from collectors.probes import ProbeCollector

COLLECTORS: dict[str, CollectorFactory] = {
    factory.provider: factory
    for factory in (AwsCollector, LibcloudCollector, ProbeCollector, HostsCollector)
}


def source_config_models() -> list[type[SourceConfig]]:
    return [factory.config_model for factory in COLLECTORS.values()]


def build_collector(config: SourceConfig, inventory: object | None = None) -> object:
    """The collector of a source; those that read the inventory (`uses_inventory`) get it."""
    factory = COLLECTORS[config.provider]
    if inventory is not None and getattr(factory, "uses_inventory", False):
        return factory(config, inventory=inventory)  # type: ignore[call-arg]
    return factory(config)
