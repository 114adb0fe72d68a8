"""Helpers shared by the AWS modules: paging, where a resource came from, tags, names, times."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from collectors.base import Page
from collectors.timestamps import iso_time
from vigil.core.model import Resource, make_uid

__all__ = [
    "PROVIDER",
    "Origin",
    "host_name",
    "iso_time",
    "name_of",
    "normalized",
    "paginate",
    "tag_dict",
]

PROVIDER = "aws"


@dataclass(frozen=True, slots=True)
class Origin:
    """The (source, account, region) a page of API items was read from."""

    source: str
    account: str
    region: str

    def resource(
        self,
        type_: str,
        native_id: str,
        *,
        name: str,
        tags: dict[str, str],
        attributes: dict[str, Any],
    ) -> Resource:
        """Build a `Resource` of this origin."""
        return Resource(
            source=self.source,
            provider=PROVIDER,
            account=self.account,
            region=self.region,
            type=str(type_),
            native_id=native_id,
            name=name,
            tags=tags,
            attributes=attributes,
        )

    def uid(self, type_: str, native_id: str) -> str:
        """The uid a resource of this account and region would have (e.g. a snapshot's source)."""
        return make_uid(PROVIDER, self.account, self.region, type_, native_id)


def tag_dict(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """AWS `[{"Key": k, "Value": v}]` (any key casing) to a plain dict."""
    result: dict[str, str] = {}
    for tag in tags or ():
        key = tag.get("Key", tag.get("key"))
        if key is not None:
            result[str(key)] = str(tag.get("Value", tag.get("value", "")))
    return result


def name_of(tags: Mapping[str, str], fallback: str) -> str:
    """The `Name` tag where there is one, else the natural name."""
    return tags.get("Name") or fallback


def paginate(
    client: BaseClient, operation: str, key: str, page_size: int, **params: Any
) -> Iterator[list[dict[str, Any]]]:
    """The `key` items of each page of a paginated read, `page_size` per call. I/O only."""
    paginator = client.get_paginator(operation)
    for page in paginator.paginate(**params, PaginationConfig={"PageSize": page_size}):
        yield page.get(key, [])


def normalized(
    pages: Iterable[list[dict[str, Any]]],
    normalize: Callable[[dict[str, Any], Origin], Resource],
    origin: Origin,
) -> Iterator[Page]:
    """Each page of API items as a page of resources."""
    for items in pages:
        yield [normalize(item, origin) for item in items]


def host_name(value: str | None) -> str | None:
    """A DNS name as later link and DNS rules compare it: lower case, no trailing dot."""
    return value.rstrip(".").lower() if value else value
