"""Helpers shared by the AWS normalizers: where a resource came from, tags, names, times."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vigil.model import Resource, iso, make_uid

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


def iso_time(value: Any) -> str | None:
    """A botocore timestamp (datetime, epoch or ISO string) as ISO 8601 UTC with Z."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return iso(datetime.fromtimestamp(value, UTC))
    if isinstance(value, str):
        return iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not a timestamp: {value!r}")
