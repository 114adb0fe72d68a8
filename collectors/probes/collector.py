"""The collector class: plans and collects the scopes of one source (see the package docs)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from typing import ClassVar

from pydantic import ValidationError

from collectors.base import Page, SourceConfig
from collectors.probes import dns as dns_probe
from collectors.probes.base import Pacer, ProbeInventory, ProbeResult, bounded, pages
from collectors.probes.config import ProbeSourceConfig, TlsTarget
from collectors.probes.ports import HostPlan, merge_plans, probe_host
from collectors.probes.tls import make_contexts, probe_tls
from vigil.core.model import ABSENT_RETIRES, GLOBAL_REGION, ResourceType, Scope

log = logging.getLogger(__name__)
PROVIDER = "probe"
CERTIFICATE, DNS_RECORD, SERVER = (
    ResourceType.CERTIFICATE.value,
    ResourceType.DNS_RECORD.value,
    ResourceType.SERVER.value,
)


class ProbeCollector:
    """Plans and collects the three probe kinds of one probe source."""

    provider: ClassVar[str] = PROVIDER
    config_model: ClassVar[type[SourceConfig]] = ProbeSourceConfig
    resource_types: ClassVar[tuple[str, ...]] = (CERTIFICATE, DNS_RECORD, SERVER)
    volatile_attributes: ClassVar[dict[str, tuple[str, ...]]] = {}
    uses_inventory: ClassVar[bool] = True

    def __init__(self, config: ProbeSourceConfig, *, inventory: ProbeInventory | None = None):
        self.config = config
        self.inventory = inventory
        self.timeout = config.timeout.total_seconds()

    def plan(self, types: set[str] | None = None) -> Iterable[Scope]:
        """Every kind, even one without targets: its empty, completed scope retires old ones.

        A completed probe scope returns every target (unreachable ones carry their last
        state), so one it no longer returns left the target list: retired, not deleted."""
        name = self.config.name
        return [
            Scope(name, PROVIDER, name, GLOBAL_REGION, type_, (ABSENT_RETIRES,))
            for type_ in self.resource_types
            if types is None or type_ in types
        ]

    def collect(self, scope: Scope) -> Iterator[Page]:
        """Probe every target of the scope's kind, then stream the resources in pages."""
        if scope.source != self.config.name or scope.type not in self.resource_types:
            raise ValueError(
                f"scope {scope.key} does not belong to probe source {self.config.name}"
            )
        outcomes = asyncio.run(self.probe(scope.type))
        yield from pages(scope, outcomes, self.inventory, PROVIDER)

    async def probe(self, type_: str) -> list[ProbeResult]:
        """The outcomes of one kind, in target order."""
        if type_ == CERTIFICATE:
            return await self._tls()
        if type_ == DNS_RECORD:
            return await self._dns()
        return await self._ports()

    async def _tls(self) -> list[ProbeResult]:
        contexts = make_contexts(self.config.ca_bundle)
        resolvers = None
        if self.config.tls_resolve == "resolvers":
            resolvers = self.config.resolver_addresses() or dns_probe.system_resolvers()
        probes = [
            lambda t=target: probe_tls(t, contexts, self.timeout, resolvers)
            for target in self.tls_targets()
        ]
        return await bounded(probes, self.config.concurrency, self.config.rate)

    async def _dns(self) -> list[ProbeResult]:
        resolvers = self.config.resolver_addresses() or dns_probe.system_resolvers()
        probes = [
            lambda n=name: dns_probe.probe_name(n, resolvers, self.timeout)
            for name in self.dns_names()
        ]
        return await bounded(probes, self.config.concurrency, self.config.rate)

    async def _ports(self) -> list[ProbeResult]:
        pacer = Pacer(self.config.concurrency, self.config.rate)
        plans = self.port_plans()
        return list(await asyncio.gather(*(probe_host(p, pacer, self.timeout) for p in plans)))

    def tls_targets(self) -> list[TlsTarget]:
        """Configured endpoints, then inventory hosts on `from_inventory.tls_ports`."""
        targets = {t.native_id: t for t in self.config.tls}
        for host in self._inventory_hosts(self.config.from_inventory.tls_ports):
            for port in self.config.from_inventory.tls_ports:
                try:
                    target = TlsTarget(host=host, port=port)
                except ValidationError:  # inventory names are data anyone may write
                    log.warning("not probing inventory host %r: not a host name", host)
                    break
                targets.setdefault(target.native_id, target)
        return list(targets.values())

    def dns_names(self) -> list[str]:
        """Configured names, then every DNS inventory record name when enabled."""
        names = dict.fromkeys(self.config.dns)
        if self.config.from_inventory.dns and self.inventory is not None:
            names.update(dict.fromkeys(n.rstrip(".").lower() for n in self.inventory.dns_names()))
        return list(names)

    def port_plans(self) -> list[HostPlan]:
        """Configured hosts, then inventory hosts on `from_inventory.ports`, merged per host."""
        plans = [HostPlan(t.host, set(t.ports), set(t.allowed)) for t in self.config.ports]
        derived = self.config.from_inventory
        plans += [
            HostPlan(host, set(derived.ports), set(derived.allowed_ports))
            for host in self._inventory_hosts(derived.ports)
        ]
        return merge_plans(plans)

    def _inventory_hosts(self, ports: list[int]) -> list[str]:
        if not ports or self.inventory is None:
            return []
        return sorted({h.rstrip(".").lower() for h in self.inventory.public_hosts() if h})
