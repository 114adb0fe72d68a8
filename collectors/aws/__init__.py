"""The AWS collector (boto3), read-only: EC2, EBS, security groups, ACM, Route 53, RDS, load
balancers (ELBv2 and classic ELB), CloudFront and S3.

```yaml
sources:
  - name: aws-prod
    provider: aws
    regions: [us-east-1, eu-west-1]    # or: all (ec2:DescribeRegions)
    role_arn: arn:aws:iam::123456789012:role/VigilReadOnly
```

`plan` lists accounts × regions × types (global types once per account, region `global`);
`collect` streams one scope's normalized pages. Every client is read-only guarded
(collectors.aws.guard); botocore errors become `CollectError`/`AccessDeniedError`.
"""

from __future__ import annotations

from typing import Any

from collectors.aws.config import AwsSourceConfig

__all__ = ["AwsCollector", "AwsSourceConfig", "service_semaphore"]


def __getattr__(name: str) -> Any:
    """The collector (and its heavy client libraries) load on first use, not with the config."""
    if name in ("AwsCollector", "service_semaphore"):
        from collectors.aws import collector

        return getattr(collector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
