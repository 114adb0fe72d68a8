"""What every probe kind shares: the pacing of connections, outcomes, and the unknown-target rule.

A probe observes a target or fails to. An observation is data (an expired certificate, a
dangling CNAME, a closed port). A failure to observe (timeout, refused, no route) is reported on
the target's resource as `reachable: false` with an `error`, while every other attribute keeps
its last known value (from `ProbeInventory.last_known`): a target that did not answer this time
neither disappears nor silently loses its findings. If *every* target of a scope failed, the
prober itself is probably cut off, so the whole scope fails and changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from collectors.base import Page
from collectors.paging import chunked
from vigil.core.errors import CollectError
from vigil.core.model import Resource, Scope

T = TypeVar("T")


class ProbeInventory(Protocol):
    """What a probe source may read from the inventory; vigil/ implements and injects it.

    Collectors know nothing of storage: the application passes an object with these three
    read-only methods to `ProbeCollector(config, inventory=...)`.
    """

    def public_hosts(self) -> Iterable[str]:
        """Names of public DNS records and public addresses of servers the inventory owns."""
        ...

    def dns_names(self) -> Iterable[str]:
        """Every A/AAAA/CNAME record name of the DNS inventory."""
        ...

    def last_known(self, uids: Collection[str]) -> Mapping[str, Mapping[str, Any]]:
        """uid -> attributes of the present resources among `uids` (absent ones left out)."""
        ...


@dataclass
class ProbeResult:
    """What probing one target gave: attributes when observed, or the reason it was not."""

    native_id: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def observed(self) -> bool:
        return self.error is None


class Pacer:
    """At most `concurrency` probes in flight and `rate` new ones per second.

    The rate bound keeps a port sweep from looking (and acting) like a scan; the concurrency
    bound keeps file descriptors and the event loop in check.
    """

    def __init__(self, concurrency: int, rate: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = asyncio.Lock()

    async def run(self, probe: Callable[[], Awaitable[T]]) -> T:
        async with self._slots:
            await self._wait_turn()
            return await probe()

    async def _wait_turn(self) -> None:
        async with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await asyncio.sleep(delay)


async def bounded(
    probes: Iterable[Callable[[], Awaitable[ProbeResult]]], concurrency: int, rate: float
) -> list[ProbeResult]:
    """Run every probe under one `Pacer`; results in input order."""
    pacer = Pacer(concurrency, rate)
    return list(await asyncio.gather(*(pacer.run(probe) for probe in probes)))


def error_text(exc: BaseException) -> str:
    """A short, stable reason for a failed probe (stable so it does not churn as drift)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")


def pages(
    scope: Scope,
    outcomes: list[ProbeResult],
    inventory: ProbeInventory | None,
    provider: str,
) -> Iterator[Page]:
    """Resources of a scope's outcomes, unknown targets carrying their last known attributes."""
    if outcomes and not any(o.observed for o in outcomes):
        reasons = sorted({o.error or "" for o in outcomes})
        raise CollectError(
            f"{scope.key}: none of the {len(outcomes)} targets answered ({'; '.join(reasons)}); "
            "the prober's own network may be down, so nothing is changed",
            retryable=True,
        )
    resources = [_resource(scope, o, provider) for o in outcomes]
    _carry_forward(
        [r for r, o in zip(resources, outcomes, strict=True) if not o.observed], inventory
    )
    yield from chunked(resources)


def _resource(scope: Scope, outcome: ProbeResult, provider: str) -> Resource:
    attributes = dict(outcome.attributes)
    attributes["reachable"] = outcome.observed
    attributes["error"] = outcome.error
    return Resource(
        source=scope.source,
        provider=provider,
        account=scope.account,
        region=scope.region,
        type=scope.type,
        native_id=outcome.native_id,
        name=outcome.name,
        attributes=attributes,
    )


def _carry_forward(unknown: list[Resource], inventory: ProbeInventory | None) -> None:
    """Give unreachable targets their last known attributes, marked unreachable."""
    if not unknown or inventory is None:
        return
    known = inventory.last_known([r.uid for r in unknown])
    for resource in unknown:
        previous = known.get(resource.uid)
        if previous is not None:
            own = resource.attributes
            resource.attributes = {**own, **previous, "reachable": False, "error": own["error"]}
