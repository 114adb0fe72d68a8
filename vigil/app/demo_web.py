"""The demo estate's web edge: a load balancer (and a classic one), a distribution, a bucket.

The HTTP listener does not redirect to HTTPS, the distribution allows plain HTTP on one
path, and the bucket is public through its ACL: material for the web-estate rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ClientFn = Callable[[str], Any]
"""A plain (unguarded) client of the home region, by service name."""


def seed_web(client: ClientFn, region: str, counts: dict[str, int]) -> None:
    """Seed the web edge in `region`, adding what it made to `counts` (per resource type)."""
    lb_dns = _seed_load_balancers(client("ec2"), client("elbv2"), client("elb"), region)
    _seed_distribution(client("cloudfront"), lb_dns)
    _seed_bucket(client("s3"), region)
    for type_, n in (("load_balancer", 2), ("cdn", 1), ("bucket", 1)):
        counts[type_] = counts.get(type_, 0) + n


def _seed_load_balancers(ec2: Any, elbv2: Any, elb: Any, region: str) -> str:
    # The default VPC's subnets: a VPC of its own would add a default security group.
    defaults = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    subnets = sorted(defaults["Subnets"], key=lambda subnet: subnet["AvailabilityZone"])[:2]
    vpc = subnets[0]["VpcId"]
    ids = [subnet["SubnetId"] for subnet in subnets]
    lb = elbv2.create_load_balancer(Name="shop", Subnets=ids, Scheme="internet-facing")
    arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    group = elbv2.create_target_group(Name="shop", Protocol="HTTP", Port=80, VpcId=vpc)
    forward = {"Type": "forward", "TargetGroupArn": group["TargetGroups"][0]["TargetGroupArn"]}
    elbv2.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=[forward])
    elb.create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        Subnets=ids[:1],
        SecurityGroups=[_default_group(ec2, vpc)],  # else moto adds a security group of its own
    )
    return str(lb["LoadBalancers"][0]["DNSName"])


def _default_group(ec2: Any, vpc: str) -> str:
    filters = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    return str(ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"])


def _seed_distribution(cloudfront: Any, origin: str) -> None:
    behaviour = {
        "TargetOriginId": "shop",
        "ViewerProtocolPolicy": "redirect-to-https",
        "MinTTL": 0,
        "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
    }
    plain = behaviour | {"PathPattern": "/legacy/*", "ViewerProtocolPolicy": "allow-all"}
    custom = {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}
    config = {
        "CallerReference": "vigil-demo",
        "Comment": "shop",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [{"Id": "shop", "DomainName": origin, "CustomOriginConfig": custom}],
        },
        "DefaultCacheBehavior": behaviour,
        "CacheBehaviors": {"Quantity": 1, "Items": [plain]},
    }
    cloudfront.create_distribution(DistributionConfig=config)


def _seed_bucket(s3: Any, region: str) -> None:
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(
        Bucket="vigil-demo-assets", **({"CreateBucketConfiguration": location} if location else {})
    )
    s3.put_bucket_acl(Bucket="vigil-demo-assets", ACL="public-read")
