"""Config of an AWS source (`provider: aws`)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from collectors.aws.budget import ApiRate
from collectors.base import SourceConfig
from vigil.core.model import ResourceType
from vigil.core.schema import EnvStr, SecretRef, StrictModel

_ROLE_ARN = re.compile(r"^arn:[a-z-]+:iam::\d{12}:role/\S+$")
_API_KEY = re.compile(r"^[a-z0-9-]+(:[A-Z][A-Za-z0-9]+)?$")


class OrganizationDiscovery(StrictModel):
    """Collect every active account of an AWS Organization by assuming a role in each.

    ```yaml
    organization:
      role_name: VigilReadOnly        # assumed in each member account
      external_id: ${VIGIL_EXTERNAL_ID}
      exclude: ["111111111111"]
    ```
    """

    role_name: str = "VigilReadOnly"
    external_id: SecretRef | None = None
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class AwsSourceConfig(SourceConfig):
    """An AWS source: one account (or an Organization), several regions."""

    provider: Literal["aws"] = "aws"
    regions: list[str] | Literal["all"] = "all"
    profile: str | None = None
    role_arn: EnvStr | None = None
    external_id: SecretRef | None = None
    organization: OrganizationDiscovery | None = None
    endpoint_url: EnvStr | None = None
    access_key_id: SecretRef | None = None
    secret_access_key: SecretRef | None = None
    types: list[str] | None = Field(
        default=None,
        description="Resource types to collect; all the collector knows if unset.",
        json_schema_extra={"items": {"enum": [member.value for member in ResourceType]}},
    )
    max_attempts: int = Field(default=8, ge=1, le=20, description="botocore standard retry mode")
    service_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Scopes of one service fetched at once per region (AWS throttles per "
        "region); under `executor: {kind: processes}` each worker process has this divided by "
        "their number (rounded down, at least 1), each `vigil worker` all of it.",
    )
    api_rates: dict[str, ApiRate] = Field(
        default_factory=dict,
        description="Request budgets by service (`ec2`) or API (`acm:ListCertificates`), "
        "over AWS's published defaults (ec2 20/s burst 100, route53 5/s, acm 10/s per API, "
        "acm:ListCertificates 1/s, rds 12/s).",
        json_schema_extra={"propertyNames": {"pattern": _API_KEY.pattern}},
    )
    connect_timeout: float = Field(default=10, gt=0)
    read_timeout: float = Field(default=60, gt=0)

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        """The account to collect is read from the ARN, so it must be a whole role ARN."""
        if value is not None and not _ROLE_ARN.match(value):
            raise ValueError(
                f"role_arn {value!r} is not a role ARN; write it as "
                "arn:aws:iam::123456789012:role/NAME"
            )
        return value

    @field_validator("api_rates")
    @classmethod
    def _api_rate_keys(cls, value: dict[str, ApiRate]) -> dict[str, ApiRate]:
        for key in value:
            if not _API_KEY.match(key):
                raise ValueError(
                    f"api_rates key {key!r} is not a service or service:Operation; "
                    "write e.g. ec2 or acm:ListCertificates (botocore's names)"
                )
        return value

    @field_validator("regions", mode="before")
    @classmethod
    def _regions_all(cls, value: object) -> object:
        if value is None:
            return "all"
        if isinstance(value, str) and value != "all":
            return [value]
        return value
