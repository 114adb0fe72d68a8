"""The demo estate's web edge: a load balancer (and a classic one), a distribution, a bucket.

Seeded problems (with `problems`): the internal classic ELB `legacy` has no instance behind
its listener (lb.unhealthy_targets, critical), the
distribution serves `/legacy/*` over plain HTTP (tls.plaintext), and the bucket is public
through its ACL (exposure.public). The `shop` load balancer redirects HTTP to HTTPS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vigil.app.demo_data import Summary

ClientFn = Callable[[str], Any]
"""A plain (unguarded) client of the home region, by service name."""


def seed_web(client: ClientFn, summary: Summary, problems: bool) -> None:
    """Seed the web edge of the home region, recording what it made in `summary`."""
    lb_dns = _seed_load_balancers(client("ec2"), client("elbv2"), client("elb"), summary, problems)
    _seed_distribution(client("cloudfront"), lb_dns, summary, problems)
    _seed_bucket(client("s3"), client("s3").meta.region_name, summary, problems)
    for type_, n in (("load_balancer", 2), ("cdn", 1), ("bucket", 1)):
        summary.add(type_, n)


def _seed_load_balancers(ec2: Any, elbv2: Any, elb: Any, summary: Summary, problems: bool) -> str:
    # The default VPC's subnets: a VPC of its own would add a default security group.
    defaults = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])
    subnets = sorted(defaults["Subnets"], key=lambda subnet: subnet["AvailabilityZone"])[:2]
    vpc = subnets[0]["VpcId"]
    ids = [subnet["SubnetId"] for subnet in subnets]
    lb = elbv2.create_load_balancer(Name="shop", Subnets=ids, Scheme="internet-facing")
    arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.create_target_group(Name="shop", Protocol="HTTP", Port=80, VpcId=vpc)
    to_https = {
        "Type": "redirect",
        "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
    }
    elbv2.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=[to_https])
    elb.create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        Subnets=ids,
        Scheme="internal",
        SecurityGroups=[_default_group(ec2, vpc)],  # else moto adds a security group of its own
    )
    if problems:
        summary.problem("lb.unhealthy_targets", "legacy")
    else:
        _register_an_instance(ec2, elb, ids[0])
    return str(lb["LoadBalancers"][0]["DNSName"])


def _register_an_instance(ec2: Any, elb: Any, subnet: str) -> None:
    instance = ec2.run_instances(
        ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1, SubnetId=subnet
    )["Instances"][0]["InstanceId"]
    elb.register_instances_with_load_balancer(
        LoadBalancerName="legacy", Instances=[{"InstanceId": instance}]
    )


def _default_group(ec2: Any, vpc: str) -> str:
    filters = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    return str(ec2.describe_security_groups(Filters=filters)["SecurityGroups"][0]["GroupId"])


def _seed_distribution(cloudfront: Any, origin: str, summary: Summary, problems: bool) -> None:
    behaviour = {
        "TargetOriginId": "shop",
        "ViewerProtocolPolicy": "redirect-to-https",
        "MinTTL": 0,
        "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
    }
    legacy = "allow-all" if problems else "https-only"
    plain = behaviour | {"PathPattern": "/legacy/*", "ViewerProtocolPolicy": legacy}
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
    made = cloudfront.create_distribution(DistributionConfig=config)
    if problems:
        summary.problem("tls.plaintext", made["Distribution"]["Id"])


def _seed_bucket(s3: Any, region: str, summary: Summary, problems: bool) -> None:
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(
        Bucket="vigil-demo-assets", **({"CreateBucketConfiguration": location} if location else {})
    )
    if problems:
        s3.put_bucket_acl(Bucket="vigil-demo-assets", ACL="public-read")
        summary.problem("exposure.public", "vigil-demo-assets")
