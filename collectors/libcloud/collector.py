"""The collector class: plans and collects the scopes of one source (see the package docs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from collectors.base import Page, SourceConfig
from collectors.libcloud import compute, dns, loadbalancer
from collectors.libcloud.compute import Origin
from collectors.libcloud.config import LibcloudSourceConfig
from collectors.libcloud.drivers import build_compute, build_dns, build_lb, method, translated
from collectors.libcloud.hypervisors import close
from collectors.paging import chunked
from vigil.core.model import GLOBAL_REGION, ResourceType, Scope

PROVIDER = "libcloud"
COMPUTE_TYPES = ("server", "disk", "snapshot", "security_group")
DNS_TYPES = ("dns_zone", "dns_record")
LB_TYPES = ("load_balancer",)

# type -> (the driver method that must exist, a description for errors)
_NEEDS: dict[str, tuple[str, str]] = {
    "server": ("list_nodes", "nodes"),
    "disk": ("list_volumes", "volumes"),
    "snapshot": ("list_volumes", "volume snapshots"),
    "security_group": ("ex_list_security_groups", "security groups"),
    "dns_zone": ("list_zones", "DNS zones"),
    "dns_record": ("list_records", "DNS records"),
    "load_balancer": ("list_balancers", "load balancers"),
}


class LibcloudCollector:
    """Plans and collects the scopes of one libcloud source."""

    provider: ClassVar[str] = PROVIDER
    config_model: ClassVar[type[SourceConfig]] = LibcloudSourceConfig
    resource_types: ClassVar[tuple[str, ...]] = COMPUTE_TYPES + DNS_TYPES + LB_TYPES
    volatile_attributes: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, config: LibcloudSourceConfig) -> None:
        self.config = config

    def plan(self, types: set[str] | None = None) -> Iterable[Scope]:
        """One scope per type the config enables (all compute types with `driver`, ...)."""
        available = (
            (COMPUTE_TYPES if self.config.driver else ())
            + (DNS_TYPES if self.config.dns_driver else ())
            + (LB_TYPES if self.config.lb_driver else ())
        )
        configured = set(self.config.types) if self.config.types else set(available)
        region = self.config.region or GLOBAL_REGION
        return [
            Scope(self.config.name, PROVIDER, self.config.account_label, region, type_)
            for type_ in available
            if type_ in configured and (types is None or type_ in types)
        ]

    def collect(self, scope: Scope) -> Iterator[Page]:
        """One type's resources, a page at a time."""
        if scope.source != self.config.name or scope.type not in _NEEDS:
            raise ValueError(
                f"scope {scope.key} does not belong to libcloud source {self.config.name}"
            )
        kind = "dns" if scope.type in DNS_TYPES else "lb" if scope.type in LB_TYPES else ""
        name = str(
            {"dns": self.config.dns_driver, "lb": self.config.lb_driver}.get(kind)
            or self.config.driver
        )
        needed, what = _NEEDS[scope.type]
        origin = Origin(scope.source, name, scope.account, scope.region)
        with translated(self.config.name, name, what, self.config.secret_values()):
            driver = _BUILDERS[kind](self.config)
            try:
                method(driver, needed, self.config.name, name, what)
                if kind == "lb":
                    # Targets link to the servers this source's compute driver lists (same
                    # account and region); without one, to the uids such a source would give.
                    servers = self.config.driver or name
                    yield from chunked(_load_balancers(driver, origin, servers))
                else:
                    yield from chunked(_RESOURCES[scope.type](driver, origin))
            finally:
                close(driver)


def _servers(driver: Any, origin: Origin) -> Iterator[Any]:
    return (compute.normalize_node(n, origin) for n in driver.list_nodes())


def _disks(driver: Any, origin: Origin) -> Iterator[Any]:
    return (compute.normalize_volume(v, origin) for v in driver.list_volumes())


def _snapshots(driver: Any, origin: Origin) -> Iterator[Any]:
    return (compute.normalize_snapshot(s, v, origin) for s, v in compute.fetch_snapshots(driver))


def _security_groups(driver: Any, origin: Origin) -> Iterator[Any]:
    groups = compute.fetch_security_groups(driver)
    return (compute.normalize_security_group(g, origin) for g in groups)


def _zones(driver: Any, origin: Origin) -> Iterator[Any]:
    return (dns.normalize_zone(z, origin) for z in driver.list_zones())


def _records(driver: Any, origin: Origin) -> Iterator[Any]:
    return (dns.normalize_record(z, r, origin) for z, r in dns.fetch_records(driver))


def _load_balancers(driver: Any, origin: Origin, servers: str) -> Iterator[Any]:
    return (
        loadbalancer.normalize_rule(rule, members, origin, servers)
        for rule, members in loadbalancer.fetch_rules(driver)
    )


_BUILDERS: dict[str, Callable[[LibcloudSourceConfig], Any]] = {
    "": build_compute,
    "dns": build_dns,
    "lb": build_lb,
}

_RESOURCES: dict[str, Callable[[Any, Origin], Iterator[Any]]] = {
    ResourceType.SERVER: _servers,
    ResourceType.DISK: _disks,
    ResourceType.SNAPSHOT: _snapshots,
    ResourceType.SECURITY_GROUP: _security_groups,
    ResourceType.DNS_ZONE: _zones,
    ResourceType.DNS_RECORD: _records,
}
