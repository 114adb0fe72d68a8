"""Test data builders shared across the suite."""

from __future__ import annotations

from typing import Any

from vigil.core.model import Resource, Scope


def scope(
    source: str = "aws-test",
    account: str = "111111111111",
    region: str = "us-east-1",
    type_: str = "server",
    provider: str = "aws",
) -> Scope:
    return Scope(source=source, provider=provider, account=account, region=region, type=type_)


def resource(
    native_id: str,
    *,
    within: Scope | None = None,
    name: str | None = None,
    tags: dict[str, str] | None = None,
    **attributes: Any,
) -> Resource:
    """A resource of `within` (default scope) with the given attributes."""
    home = within or scope()
    return Resource(
        source=home.source,
        provider=home.provider,
        account=home.account,
        region=home.region,
        type=home.type,
        native_id=native_id,
        name=name if name is not None else native_id,
        tags=tags or {},
        attributes=attributes,
    )


def resources(
    count: int, *, within: Scope | None = None, prefix: str = "r-", **attributes: Any
) -> list[Resource]:
    return [resource(f"{prefix}{i:05d}", within=within, **attributes) for i in range(count)]
