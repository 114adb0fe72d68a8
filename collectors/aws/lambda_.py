"""Lambda functions → `function` (ListFunctions pages, ListTags per function).

The module is `lambda_` because `lambda` is a Python keyword.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient

from collectors.aws.fields import Origin, iso_time, name_of, normalized, paginate
from collectors.base import Page
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 50
"""ListFunctions MaxItems: 50 is the API's maximum."""


def fetch_functions(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of ListFunctions items, each with its `Tags`. I/O only."""
    for page in paginate(client, "list_functions", "Functions", page_size or PAGE_SIZE):
        functions = [dict(function) for function in page]
        for function in functions:
            tags = client.list_tags(Resource=function["FunctionArn"])
            function["Tags"] = tags.get("Tags", {})
        yield functions


def normalize_function(item: dict[str, Any], origin: Origin) -> Resource:
    """One ListFunctions item (with `Tags`) → a `function` resource."""
    tags = {str(k): str(v) for k, v in (item.get("Tags") or {}).items()}
    name = item["FunctionName"]
    attributes = {
        # Container-image functions have no runtime: null, which no runtime rule judges.
        "runtime": item.get("Runtime"),
        "package_type": item.get("PackageType", "Zip"),
        "last_modified": iso_time(item.get("LastModified")),
        "role": item.get("Role"),
        "handler": item.get("Handler"),
        "memory_mb": item.get("MemorySize"),
        "timeout_s": item.get("Timeout"),
        "architectures": item.get("Architectures", ["x86_64"]),
        "code_size_bytes": item.get("CodeSize"),
        "state": item.get("State"),
        "vpc_id": (item.get("VpcConfig") or {}).get("VpcId") or None,
        "security_groups": sorted((item.get("VpcConfig") or {}).get("SecurityGroupIds", [])),
        "arn": item.get("FunctionArn"),
    }
    return origin.resource(
        ResourceType.FUNCTION, name, name=name_of(tags, name), tags=tags, attributes=attributes
    )


def pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `function` resources."""
    return normalized(fetch_functions(client), normalize_function, origin)
