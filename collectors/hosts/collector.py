"""The collector class: plans and collects the scopes of one source (see the package docs)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import ClassVar

from pydantic import ValidationError

from collectors.base import Page, SourceConfig
from collectors.hosts import databases, node_exporter, resources
from collectors.hosts.ansible import load_inventory
from collectors.hosts.base import (
    BACKUP,
    CERTIFICATES,
    DISKS,
    LOAD_BALANCERS,
    PORTS,
    SYSTEM,
    HostAccounts,
    HostFacts,
    HostInventory,
)
from collectors.hosts.config import HostsSourceConfig, Target, target_from_vars
from collectors.hosts.ssh import Credentials, fetch_facts
from vigil.core.errors import CollectError, InputError
from vigil.core.model import ABSENT_RETIRES, GLOBAL_REGION, Resource, Scope

log = logging.getLogger(__name__)
PROVIDER = resources.PROVIDER
SSH_TYPES = (resources.SERVER, resources.DISK, resources.CERTIFICATE, resources.SNAPSHOT)
ALL_TYPES = (*SSH_TYPES, resources.LOAD_BALANCER)
"""`load_balancer` scopes are planned only for sources with `load_balancers` configured."""
EXPORTER_TYPES = (resources.SERVER, resources.DISK)
DATABASE_TYPES = (databases.DATABASE, databases.CACHE)
"""Planned only for the hosts that declare a database (or a cache) of that kind."""
_NEEDS: dict[str, tuple[str, ...]] = {
    resources.SERVER: (SYSTEM, PORTS),
    resources.DISK: (DISKS,),
    resources.CERTIFICATE: (CERTIFICATES,),
    resources.SNAPSHOT: (DISKS, BACKUP),
    resources.LOAD_BALANCER: (LOAD_BALANCERS,),
}
"""The fact groups each scope type is built from: if one failed, the scope fails."""


def needed_groups(config: HostsSourceConfig, type_: str) -> tuple[str, ...]:
    """`_NEEDS`, plus `certificates` for load balancers when certificates are read: their
    listeners' certificate ids and `serves` links come from those facts, so a failed
    certificates read would change ids and end links (false drift) instead of failing."""
    groups = _NEEDS.get(type_, ())
    if type_ == resources.LOAD_BALANCER and config.certificate_paths:
        groups = (*groups, CERTIFICATES)
    return groups


class HostsCollector:
    """Plans per-(host, type) scopes and collects them from one shared read per host."""

    provider: ClassVar[str] = PROVIDER
    uses_inventory: ClassVar[bool] = True
    config_model: ClassVar[type[SourceConfig]] = HostsSourceConfig
    resource_types: ClassVar[tuple[str, ...]] = ALL_TYPES + DATABASE_TYPES
    volatile_attributes: ClassVar[dict[str, tuple[str, ...]]] = {
        resources.SERVER: ("uptime_seconds",),
        databases.DATABASE: ("lag_seconds", "lag_bytes", "replica_details"),
        databases.CACHE: ("lag_seconds", "lag_bytes", "replica_details"),
    }

    def __init__(
        self, config: HostsSourceConfig, *, inventory: HostInventory | None = None
    ) -> None:
        self.config = config
        self.inventory = inventory
        self._lock = threading.Lock()
        self._reads: dict[str, Future[HostFacts]] = {}
        self._targets: dict[str, Target] | None = None
        self._credentials: Credentials | None = None
        concurrency = config.ssh.concurrency if config.ssh else 32
        self._slots = threading.BoundedSemaphore(concurrency)

    # -- planning ------------------------------------------------------------------------------

    def targets(self) -> list[Target]:
        """Configured targets, then the Ansible inventory's, then the inventory's servers.

        A host named twice keeps its first definition (the config wins over Ansible).
        """
        found: dict[str, Target] = {}
        for target in [*self.config.targets, *self._ansible(), *self._from_inventory()]:
            found.setdefault(target.label, target)
        return list(found.values())

    def plan(self, types: set[str] | None = None) -> Iterable[Scope]:
        """Type-major (every host's server scope first), so the pipeline's workers start on
        distinct hosts; plus empty scopes of hosts no longer configured, so they are swept."""
        targets = {t.label: t for t in self.targets()}
        with self._lock:
            self._targets, self._reads = targets, {}
        retired = self._retired(targets)
        scopes = []
        for type_ in self.resource_types:
            if types is not None and type_ not in types:
                continue
            if type_ == resources.LOAD_BALANCER and self.config.load_balancers is None:
                continue
            scopes += [self._scope(t.label, type_) for t in targets.values() if type_ in _types(t)]
            if type_ not in DATABASE_TYPES:  # unplanned database scopes retire by themselves
                scopes += [self._scope(label, type_, retired=True) for label in retired]
        return scopes

    def _scope(self, label: str, type_: str, *, retired: bool = False) -> Scope:
        context = (ABSENT_RETIRES,) if retired else ()
        return Scope(self.config.name, PROVIDER, label, GLOBAL_REGION, type_, context)

    def _retired(self, targets: dict[str, Target]) -> list[str]:
        accounts: HostAccounts | None = getattr(self.inventory, "host_accounts", None)
        if accounts is None:
            return []
        return sorted(set(accounts(self.config.name)) - set(targets))

    def _ansible(self) -> list[Target]:
        path = self.config.ansible_inventory
        if path is None:
            return []
        targets = []
        for host in load_inventory(path):
            try:
                targets.append(target_from_vars(host.name, host.variables, host.groups))
            except (ValidationError, ValueError, TypeError) as exc:
                problem = _validation_text(exc)
                raise InputError(
                    f"host {host.name!r}: {problem}",
                    path=path,
                    line=host.line,
                    fix="fix ansible_host / ansible_port / ansible_user / vigil_allowed_ports",
                ) from None
        return targets

    def _from_inventory(self) -> list[Target]:
        settings = self.config.from_inventory
        if not settings.enabled or self.inventory is None:
            return []
        targets = []
        for uid, name, private, public in self.inventory.servers():
            addresses = private if settings.address == "private" else public
            if uid.startswith(f"{PROVIDER}/") or not addresses:
                continue  # our own records, or a server without such an address
            address = addresses[0]
            try:
                target = Target(
                    host=address,
                    port=settings.port,
                    name=name or uid.rsplit("/", 1)[-1],
                    allowed_ports=settings.allowed_ports,
                    tags={"inventory_uid": uid},
                    public_address=public[0] if public else None,  # its cloud's public IP
                )
            except ValidationError:
                log.warning("inventory server %r has an unusable address %r", name, address)
                continue
            targets.append(target)
        return targets

    # -- collection ----------------------------------------------------------------------------

    def collect(self, scope: Scope) -> Iterator[Page]:
        """The scope's resources, from the host's facts (read once per pass, shared)."""
        if scope.source != self.config.name or scope.type not in self.resource_types:
            raise ValueError(
                f"scope {scope.key} does not belong to hosts source {self.config.name}"
            )
        target = self._target(scope)
        if target is None:
            return  # a host no longer configured: an empty, complete scope deletes its records
        facts = self._facts(target)
        needed = needed_groups(self.config, scope.type)
        for group in (*needed, *databases.needed_groups(target, scope.type)):
            if group in facts.failed:
                raise CollectError(
                    f"{_where(target)}: could not read its {group} facts: {facts.failed[group]}"
                )
        yield self._build(scope.type, target, facts)

    def _target(self, scope: Scope) -> Target | None:
        with self._lock:
            if self._targets is None:
                self._targets = {t.label: t for t in self.targets()}
            target = self._targets.get(scope.account)
        if target is None and ABSENT_RETIRES not in scope.context:
            raise CollectError(f"host {scope.account} is not a target of {self.config.name}")
        return target

    def _build(self, type_: str, target: Target, facts: HostFacts) -> list[Resource]:
        source = self.config.name
        if type_ == resources.SERVER:
            return [resources.server(source, target, facts, self.config)]
        if type_ == resources.DISK:
            return resources.disks(source, target, facts, self.config)
        if type_ == resources.CERTIFICATE:
            return resources.certificates(source, target, facts, self.config)
        if type_ == resources.LOAD_BALANCER:
            return resources.load_balancers(source, target, facts, self._host_names())
        if type_ in DATABASE_TYPES:
            with self._lock:
                targets = dict(self._targets or {})
            cache = type_ == databases.CACHE
            return databases.resources(source, target, facts, targets, cache=cache)
        found = resources.snapshots(source, target, facts, self.config)
        return found + databases.backups(source, target, facts)

    def _host_names(self) -> dict[str, str]:
        """Address or name → host name, for every target of the pass (backends link to them)."""
        with self._lock:
            targets = list((self._targets or {}).values())
        names: dict[str, str] = {}
        for target in targets:
            names.setdefault(target.host.lower(), target.label)
            names.setdefault(target.label.lower(), target.label)
        return names

    def _facts(self, target: Target) -> HostFacts:
        """The host's facts: the first scope of a host reads them, the others wait for it."""
        with self._lock:
            read = self._reads.get(target.label)
            owner = read is None
            if read is None:
                read = self._reads[target.label] = Future()
        if owner:
            with self._slots:
                _settle(read, lambda: self._read(target))
        return read.result()

    def _read(self, target: Target) -> HostFacts:
        if target.node_exporter is not None:
            exporter = target.node_exporter
            timeout = exporter.timeout or (self.config.ssh.timeout if self.config.ssh else None)
            seconds = timeout.total_seconds() if timeout else 10.0
            text = node_exporter.fetch(exporter.address(target.host), target.label, seconds)
            return node_exporter.parse_metrics(text)
        return fetch_facts(target, self.config, self._shared_credentials())

    def _shared_credentials(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                self._credentials = Credentials(self.config.settings())
            return self._credentials


def _types(target: Target) -> tuple[str, ...]:
    if target.node_exporter is not None:
        return EXPORTER_TYPES
    kinds = {databases.CACHE if d.is_cache else databases.DATABASE for d in target.databases}
    return ALL_TYPES + tuple(t for t in DATABASE_TYPES if t in kinds)


def _where(target: Target) -> str:
    return f"{target.label} ({target.host}:{target.port})"


def _settle(future: Future[HostFacts], read: Callable[[], HostFacts]) -> None:
    try:
        future.set_result(read())
    except BaseException as exc:  # handed to every scope of the host, raised there
        future.set_exception(exc)


def _validation_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)
