"""The collector class: plans and collects the scopes of one source (see the package docs)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import ClassVar, TypeVar

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from collectors.aws.budget import share_of_concurrency
from collectors.aws.config import AwsSourceConfig
from collectors.aws.failures import Where, translate
from collectors.aws.fields import PROVIDER, Origin
from collectors.aws.links import with_links
from collectors.aws.services import TYPES, Part
from collectors.aws.session import GLOBAL_API_REGION, Sessions
from collectors.base import Page, SourceConfig
from vigil.core.model import GLOBAL_REGION, Scope

T = TypeVar("T")

_semaphores: dict[tuple[str, str, str], threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def service_semaphore(
    source: str, service: str, region: str, size: int
) -> threading.BoundedSemaphore:
    """The process-wide bound on scopes of one (source, service, region) fetching at once.

    Per region because AWS throttles per region: a source with many regions still runs them
    side by side, while each region's API sees at most `size` callers from us. The worker
    processes of a `processes` pass split `size` between them (`share_of_concurrency`); queue
    workers each keep the whole of it: their API budgets, shared, bound the rate.
    """
    with _semaphores_lock:
        key = (source, service, region)
        if key not in _semaphores:
            _semaphores[key] = threading.BoundedSemaphore(share_of_concurrency(size))
        return _semaphores[key]


class AwsCollector:
    """Plans and collects the scopes of one AWS source (account, Organization, regions)."""

    provider: ClassVar[str] = PROVIDER
    config_model: ClassVar[type[SourceConfig]] = AwsSourceConfig
    resource_types: ClassVar[tuple[str, ...]] = tuple(TYPES)
    volatile_attributes: ClassVar[dict[str, tuple[str, ...]]] = {
        # Moves forward on every read (every ~5 minutes on real AWS, every call on moto): an
        # observation, not a change: storage keeps it current beside the resource
        # (storage/volatile.py), never as a change event.
        "database": ("latest_restorable_time",),
    }

    def __init__(self, config: AwsSourceConfig) -> None:
        self.config = config
        self.sessions = Sessions(config)

    def plan(self, types: set[str] | None = None) -> Iterable[Scope]:
        """Scopes: accounts × regions × types; global types once per account."""
        wanted = self._types(types)
        if not wanted:
            return []
        accounts = self._accounts()
        regional = any(TYPES[type_].regional for type_ in wanted)
        regions = self._api(GLOBAL_API_REGION, "ec2", self.sessions.regions) if regional else []
        scopes = []
        for account, role_arn in accounts:
            context = (("role_arn", role_arn),) if role_arn else ()
            for type_ in wanted:
                for region in regions if TYPES[type_].regional else [GLOBAL_REGION]:
                    scopes.append(self._scope(account, region, type_, context))
        return scopes

    def collect(self, scope: Scope) -> Iterator[Page]:
        """One scope's resources, a normalized page at a time."""
        if scope.source != self.config.name or scope.type not in TYPES:
            raise ValueError(f"scope {scope.key} does not belong to aws source {self.config.name}")
        origin = Origin(scope.source, scope.account, scope.region)
        for part in TYPES[scope.type].parts:
            yield from self._collect_part(scope, part, origin)

    def _collect_part(self, scope: Scope, part: Part, origin: Origin) -> Iterator[Page]:
        """Pages of one service, holding that service's concurrency slot meanwhile."""
        api_region = GLOBAL_API_REGION if scope.region == GLOBAL_REGION else scope.region
        role_arn = scope.context_value("role_arn")
        where = Where(scope.source, scope.account, scope.region, part.service)
        semaphore = service_semaphore(
            scope.source, part.service, api_region, self.config.service_concurrency
        )
        with semaphore:
            client = self._client(part.service, api_region, role_arn, where)
            also = [self._client(service, api_region, role_arn, where) for service in part.also]
            try:
                yield from with_links(part.pages(client, origin, *also))
            except (ClientError, BotoCoreError) as exc:
                raise translate(exc, where) from exc

    def _client(self, service: str, region: str, role_arn: str | None, where: Where) -> BaseClient:
        """A guarded client; building it may assume roles, so its errors are blamed on sts."""
        try:
            return self.sessions.client(service, region, role_arn)
        except (ClientError, BotoCoreError) as exc:
            assuming = role_arn or self.config.role_arn
            blame = Where(where.source, where.account, where.region, "sts") if assuming else where
            raise translate(exc, blame) from exc

    def _types(self, types: set[str] | None) -> list[str]:
        """Registry order, restricted to the config's `types` and the caller's `types`."""
        configured = set(self.config.types) if self.config.types else set(TYPES)
        return [t for t in TYPES if t in configured and (types is None or t in types)]

    def _accounts(self) -> list[tuple[str, str | None]]:
        """(account id, role to assume or None for the source's own credentials)."""
        if self.config.organization is not None:
            return self._organization_accounts()
        if self.config.role_arn:
            return [(self.config.role_arn.split(":")[4], None)]
        account, _ = self._api(GLOBAL_API_REGION, "sts", self.sessions.caller_account)
        return [(account, None)]

    def _organization_accounts(self) -> list[tuple[str, str | None]]:
        """Active member accounts via a role each; the management account directly."""
        organization = self.config.organization
        assert organization is not None
        management, partition = self._api(GLOBAL_API_REGION, "sts", self.sessions.caller_account)
        ids = self._api(
            GLOBAL_API_REGION, "organizations", lambda: list(self.sessions.organization_accounts())
        )
        accounts: list[tuple[str, str | None]] = []
        for account in sorted(ids):
            if organization.include and account not in organization.include:
                continue
            if account in organization.exclude:
                continue
            role = f"arn:{partition}:iam::{account}:role/{organization.role_name}"
            accounts.append((account, None if account == management else role))
        return accounts

    def _api(self, region: str, service: str, call: Callable[[], T]) -> T:
        """Run a planning call, translating botocore errors."""
        try:
            return call()
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, Where(self.config.name, "-", region, service)) from exc

    def _scope(
        self, account: str, region: str, type_: str, context: tuple[tuple[str, str], ...]
    ) -> Scope:
        return Scope(self.config.name, PROVIDER, account, region, type_, context)
