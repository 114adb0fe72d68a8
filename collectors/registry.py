"""The explicit map of source providers. A new source family is one line in `SOURCE_KINDS`;
an installed package adds one through the entry-point group `vigil.collectors` (its
collector class, with `provider` and `config_model`).

Each kind names its config model (light: parsing `vigil.yaml` must not load boto3, libcloud
or asyncssh) and where its collector class lives, imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from collectors.aws.config import AwsSourceConfig
from collectors.base import CollectorFactory, SourceConfig
from collectors.hosts.config import HostsSourceConfig
from collectors.libcloud.config import LibcloudSourceConfig
from collectors.probes.config import ProbeSourceConfig
from vigil.core import plugins


@dataclass(frozen=True)
class SourceKind:
    """One `provider:` value: its config model and its collector."""

    provider: str
    config_model: type[SourceConfig]
    collector_path: str  # "package.module:Class"

    def collector(self) -> CollectorFactory:
        module, _, name = self.collector_path.partition(":")
        factory: CollectorFactory = getattr(import_module(module), name)
        return factory


SOURCE_KINDS: dict[str, SourceKind] = {
    kind.provider: kind
    for kind in (
        SourceKind("aws", AwsSourceConfig, "collectors.aws.collector:AwsCollector"),
        SourceKind(
            "libcloud", LibcloudSourceConfig, "collectors.libcloud.collector:LibcloudCollector"
        ),
        SourceKind("probe", ProbeSourceConfig, "collectors.probes.collector:ProbeCollector"),
        SourceKind("hosts", HostsSourceConfig, "collectors.hosts.collector:HostsCollector"),
    )
}


SOURCE_OWNERS: dict[str, str] = dict.fromkeys(SOURCE_KINDS, plugins.BUILTIN)
plugins.register(
    SOURCE_KINDS,
    SOURCE_OWNERS,
    plugins.load(plugins.COLLECTORS),
    key_of=lambda factory: plugins.declared_id(factory, "provider"),
    entry_of=lambda factory: SourceKind(
        factory.provider, factory.config_model, f"{factory.__module__}:{factory.__qualname__}"
    ),
    what="source provider",
)


def source_config_models() -> list[type[SourceConfig]]:
    return [kind.config_model for kind in SOURCE_KINDS.values()]


def collector_class(provider: str) -> CollectorFactory:
    return SOURCE_KINDS[provider].collector()


def build_collector(config: SourceConfig, inventory: Any | None = None) -> Any:
    """The collector of a source; those that read the inventory (`uses_inventory`) get it."""
    factory = collector_class(config.provider)
    if inventory is not None and getattr(factory, "uses_inventory", False):
        return factory(config, inventory=inventory)  # type: ignore[call-arg]
    return factory(config)
