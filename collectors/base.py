"""The collector contract: plan scopes for a source, then stream each scope's resources.

A collector module is `fetch` (pages from the API, I/O only) plus `normalize` (pure, tested on
recorded payloads). Errors are raised as `CollectError` (or `AccessDeniedError`): "no access"
is *unknown*, never *empty*, so a failing scope can never cause a deletion downstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Protocol

from pydantic import field_validator

from vigil.core.model import Resource, ResourceType, Scope
from vigil.core.schema import StrictModel

Page = list[Resource]


class SourceConfig(StrictModel):
    """Settings every source has; each provider extends it with its own keys."""

    name: str
    provider: str

    @field_validator("types", check_fields=False)
    @classmethod
    def _types_exist(cls, types: list[str] | None) -> list[str] | None:
        # A misspelt type would silently collect nothing of it.
        known = [member.value for member in ResourceType]
        for value in types or []:
            if value not in known:
                raise ValueError(f"unknown resource type {value!r}; use {', '.join(known)}")
        return types


class Collector(Protocol):
    """One configured source.

    `plan` lists the scopes to collect (it may call the API: DescribeRegions, Organizations),
    restricted to `types` when given. `collect` yields one scope's resources a page at a time.
    Both raise `CollectError` on failure; neither writes anything anywhere.
    """

    provider: ClassVar[str]
    config_model: ClassVar[type[SourceConfig]]
    resource_types: ClassVar[tuple[str, ...]]
    volatile_attributes: ClassVar[dict[str, tuple[str, ...]]]
    """Per type, attributes whose value moves on every read; they never count as a change."""
    # Optional: `uses_inventory: ClassVar[bool] = True` makes the pipeline pass
    # `inventory=` (vigil.app.inventory_reader.StorageInventory) to the constructor.

    def plan(self, types: set[str] | None = None) -> Iterable[Scope]: ...

    def collect(self, scope: Scope) -> Iterator[Page]: ...


class CollectorFactory(Protocol):
    provider: ClassVar[str]
    config_model: ClassVar[type[SourceConfig]]
    resource_types: ClassVar[tuple[str, ...]]

    def __call__(self, config: Any) -> Collector: ...
