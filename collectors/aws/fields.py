"""Helpers shared by the AWS modules: paging, where a resource came from, tags, names, times."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from collectors.base import Page
from collectors.timestamps import iso_time
from vigil.core.errors import CollectError
from vigil.core.model import Resource, make_uid

__all__ = [
    "PROVIDER",
    "Origin",
    "iso_time",
    "name_of",
    "normalize_page",
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
        yield normalize_page(items, lambda item: normalize(item, origin), normalize.__name__)


def normalize_page(
    items: Iterable[Any], normalize: Callable[[Any], Resource], what: str
) -> list[Resource]:
    """One page of API items as resources; an item of a shape we cannot read fails the scope.

    Failing, not skipping: a skipped item would read as a deleted resource. The scope keeps
    what it had, and the error names the function and the field so the surprise is visible."""
    try:
        return [checked(normalize(item)) for item in items]
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise CollectError(
            f"the API answered with an item {what} cannot read ({_surprise(exc)}); "
            "the scope keeps its last inventory",
            retryable=False,
        ) from exc


def checked(resource: Resource) -> Resource:
    """A resource whose identity is text, as storage and every renderer expect."""
    for field in ("native_id", "name"):
        value = getattr(resource, field)
        if not isinstance(value, str) or (field == "native_id" and not value):
            raise TypeError(f"{field} is {type(value).__name__} {value!r:.60}, not text")
    return resource


def _surprise(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no field {exc.args[0]!r:.80}" if exc.args else "a field is missing"
    return f"{type(exc).__name__}: {str(exc):.200}"
