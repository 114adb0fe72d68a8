"""ACM certificates → `certificate` (acm:ListCertificates, DescribeCertificate, tags).

ListCertificates returns only RSA_2048 certificates unless asked for other key types, so
every key type the API model knows is requested explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from collectors.aws.details import each
from collectors.aws.failures import error_code
from collectors.aws.fields import Origin, iso_time, name_of, normalized, tag_dict
from collectors.base import Page
from collectors.certs import canonical_serial
from vigil.core.model import Resource, ResourceType

PAGE_SIZE = 1000
_KEY_TYPE = re.compile(r"^(RSA|EC)_(?:prime|secp)?(\d+)")


def key_types(client: BaseClient) -> list[str]:
    """Every ACM key type (RSA_1024 ... EC_secp521r1), read from the client's API model."""
    return list(client.meta.service_model.shape_for("KeyAlgorithm").enum)


def fetch_certificates(
    client: BaseClient, page_size: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Pages of DescribeCertificate details, each with its `Tags`. I/O only."""
    paginator = client.get_paginator("list_certificates")
    pages_ = paginator.paginate(
        Includes={"keyTypes": key_types(client)},
        PaginationConfig={"PageSize": page_size or PAGE_SIZE},
    )
    for page in pages_:
        arns = [summary["CertificateArn"] for summary in page.get("CertificateSummaryList", [])]
        details = each(lambda arn: _describe(client, arn), arns)  # within ACM's 10/s per API
        yield [detail for detail in details if detail is not None]


def _describe(client: BaseClient, arn: str) -> dict[str, Any] | None:
    """DescribeCertificate plus tags; None when it was deleted since it was listed."""
    try:
        detail = dict(client.describe_certificate(CertificateArn=arn)["Certificate"])
        detail["Tags"] = client.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None  # gone between List and Describe: it is not in the inventory any more
        raise
    return detail


def normalize_certificate(item: dict[str, Any], origin: Origin) -> Resource:
    """One DescribeCertificate result (with `Tags`) → a `certificate` resource."""
    tags = tag_dict(item.get("Tags"))
    algorithm, size = split_key_type(item.get("KeyAlgorithm"))
    attributes = {
        "common_name": item.get("DomainName"),
        "sans": list(item.get("SubjectAlternativeNames", [])),
        "issuer": item.get("Issuer"),
        "not_before": iso_time(item.get("NotBefore")),
        "not_after": iso_time(item.get("NotAfter")),
        "status": item.get("Status"),
        "key_algorithm": algorithm,
        "key_size": size,
        "key_type": item.get("KeyAlgorithm"),
        "signature_algorithm": item.get("SignatureAlgorithm"),
        "serial": canonical_serial(item.get("Serial")),
        "in_use_by": list(item.get("InUseBy", [])),
        "origin": "acm",
        "managed_type": item.get("Type"),
        "renewal_eligibility": item.get("RenewalEligibility"),
    }
    return origin.resource(
        ResourceType.CERTIFICATE,
        item["CertificateArn"],
        name=name_of(tags, item.get("DomainName") or item["CertificateArn"]),
        tags=tags,
        attributes=attributes,
    )


def split_key_type(value: str | None) -> tuple[str | None, int | None]:
    """`RSA_2048` → (`RSA`, 2048); `EC_prime256v1` → (`EC`, 256); unknown → (value, None)."""
    match = _KEY_TYPE.match(value or "")
    if not match:
        return value, None
    return match.group(1), int(match.group(2))


def pages(client: BaseClient, origin: Origin) -> Iterator[Page]:
    """Normalized pages of `certificate` resources."""
    return normalized(fetch_certificates(client), normalize_certificate, origin)
