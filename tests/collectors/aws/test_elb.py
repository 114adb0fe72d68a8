"""Load balancers: ELBv2 (application, network) and classic ELB against moto; target health
moto cannot produce (`unhealthy`, `draining`) through the pure normalizer on a recorded payload."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws import AwsCollector, elb
from tests.factories.aws import ORIGIN, collect, payload, run_instances, scope, seed_client, source


def _subnets(url: str) -> tuple[str, list[str]]:
    ec2 = seed_client(url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(("us-east-1b", "us-east-1a"))
    ]
    return vpc, subnets


def _alb(url: str, name: str, **extra: Any) -> dict[str, Any]:
    _, subnets = _subnets(url)
    answer = seed_client(url, "elbv2").create_load_balancer(Name=name, Subnets=subnets, **extra)
    return dict(answer["LoadBalancers"][0])


def _by_name(url: str) -> dict[str, Any]:
    return {r.name: r for r in collect(AwsCollector(source(url)), scope("load_balancer"))}


def test_an_alb_with_a_redirect_and_an_https_listener_and_its_targets(moto: str) -> None:
    client = seed_client(moto, "elbv2")
    lb = _alb(moto, "web", Scheme="internet-facing", Tags=[{"Key": "team", "Value": "edge"}])
    group = client.create_target_group(
        Name="web-tg", Protocol="HTTP", Port=8080, VpcId=lb["VpcId"], TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    (instance,) = run_instances(moto, 1)
    client.register_targets(TargetGroupArn=group, Targets=[{"Id": instance, "Port": 8080}])
    redirect = {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}
    client.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": redirect}],
    )
    acm = seed_client(moto, "acm")
    certificate = acm.request_certificate(DomainName="web.example.com")["CertificateArn"]
    client.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )

    resource = _by_name(moto)["web"]

    attributes = resource.attributes
    assert resource.native_id == lb["LoadBalancerArn"]
    assert resource.tags == {"team": "edge"}
    assert (attributes["kind"], attributes["scheme"]) == ("application", "internet-facing")
    assert attributes["zones"] == ["us-east-1a", "us-east-1b"]
    assert attributes["dns_name"] == lb["DNSName"].lower()
    http, https = attributes["listeners"]
    assert (http["port"], http["default_action"], http["redirect_https"]) == (80, "redirect", True)
    assert https["certificates"] == [certificate]
    assert (https["default_action"], https["target_groups"]) == ("forward", [group])
    assert https["redirect_https"] is False
    assert attributes["targets"] == [
        {"id": instance, "port": 8080, "target_group": group, "health": "healthy"}
    ]


def test_a_network_lb_without_target_groups_is_collected(moto: str) -> None:
    lb = _alb(moto, "nlb", Type="network", Scheme="internal")

    attributes = _by_name(moto)["nlb"].attributes

    assert "app/" in lb["LoadBalancerArn"]  # moto's NLB ARN; the kind comes from Type
    assert (attributes["kind"], attributes["scheme"]) == ("network", "internal")
    assert attributes["targets"] == [] and attributes["listeners"] == []


def test_a_classic_elb_with_its_instances(moto: str) -> None:
    (instance,) = run_instances(moto, 1)
    client = seed_client(moto, "elb")
    client.create_load_balancer(
        LoadBalancerName="legacy",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
        AvailabilityZones=["us-east-1a"],
        Tags=[{"Key": "Name", "Value": "legacy-web"}],
    )
    client.register_instances_with_load_balancer(
        LoadBalancerName="legacy", Instances=[{"InstanceId": instance}]
    )

    resource = _by_name(moto)["legacy-web"]

    assert resource.native_id == "legacy"
    attributes = resource.attributes
    assert (attributes["kind"], attributes["zones"]) == ("classic", ["us-east-1a"])
    assert attributes["listeners"][0]["protocol"] == "HTTP"
    assert attributes["listeners"][0]["port"] == 80
    assert [(t["id"], t["health"]) for t in attributes["targets"]] == [(instance, "healthy")]


def test_pages_past_one_page_and_tags_past_one_batch(
    moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(elb, "PAGE_SIZE", 5)
    _, subnets = _subnets(moto)
    client = seed_client(moto, "elbv2")
    names = {f"lb-{i}" for i in range(elb.TAG_BATCH + 3)}
    for name in names:
        client.create_load_balancer(
            Name=name, Subnets=subnets, Tags=[{"Key": "Name", "Value": f"{name}-tagged"}]
        )

    pages = list(AwsCollector(source(moto)).collect(scope("load_balancer")))

    assert len(pages) >= 5
    assert sorted(r.name for page in pages for r in page) == sorted(f"{n}-tagged" for n in names)


def test_unhealthy_and_draining_targets_from_a_recorded_payload() -> None:
    resource = elb.normalize_v2(payload("describe_load_balancers_v2"), ORIGIN)

    health = {target["id"]: target["health"] for target in resource.attributes["targets"]}
    assert health == {"i-0a1": "healthy", "i-0b2": "unhealthy", "i-0c3": "draining"}
    assert resource.attributes["dns_name"] == "web-123.eu-west-1.elb.amazonaws.com"
    assert resource.attributes["kind"] == "application"


def _https_with_sni(url: str) -> tuple[str, list[str]]:
    """An ALB whose HTTPS listener serves a default and an SNI certificate."""
    client, acm = seed_client(url, "elbv2"), seed_client(url, "acm")
    lb = _alb(url, "sni", Scheme="internet-facing")
    default, extra = (
        acm.request_certificate(DomainName=f"{name}.example.com")["CertificateArn"]
        for name in ("www", "shop")
    )
    listener = client.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": default}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    client.add_listener_certificates(ListenerArn=listener, Certificates=[{"CertificateArn": extra}])
    return lb["LoadBalancerArn"], sorted([default, extra])


def test_a_listener_lists_its_sni_certificates_too(aws_proxy: Any) -> None:
    proxy = aws_proxy()
    _, certificates = _https_with_sni(proxy.url)

    (https,) = _by_name(proxy.url)["sni"].attributes["listeners"]

    assert https["certificates"] == certificates
    assert "certificates_complete" not in https  # complete: nothing extra stored
    assert [r.operation for r in proxy.requests].count("DescribeListenerCertificates") == 1


def test_sni_certificates_denied_leave_the_listener_bindings_incomplete(aws_proxy: Any) -> None:
    proxy = aws_proxy(deny_operations={"DescribeListenerCertificates"})
    _https_with_sni(proxy.url)

    (https,) = _by_name(proxy.url)["sni"].attributes["listeners"]

    # The scope completes (the load balancer is still known); its bindings are not all known.
    assert https["certificates_complete"] is False
    assert proxy.outcomes("denied")
