"""Links from the AWS collector against moto: each kind from the collector that emits it, and
the DNS names and S3 endpoints they name resolved by storage to the resources answering them."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws import AwsCollector, elasticache
from collectors.aws.links import add_links, name_target
from storage.db import Database
from storage.topology import topology
from tests.factories.aws import (
    ACCOUNT,
    ORIGIN,
    collect,
    payload,
    run_instances,
    scope,
    seed_client,
    source,
)
from vigil.app.collect import collect as collect_pass
from vigil.core.model import Link, Resource, make_uid

REGION = "us-east-1"


def _uid(type_: str, native_id: str, region: str = REGION) -> str:
    return make_uid("aws", ACCOUNT, region, type_, native_id)


def _links(url: str, type_: str, region: str = REGION) -> set[Link]:
    resources: list[Resource] = collect(AwsCollector(source(url)), scope(type_, region=region))
    return {link for resource in resources for link in resource.links}


def _network(url: str) -> tuple[str, list[str], str]:
    ec2 = seed_client(url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    return vpc, subnets, group


def _balancer(url: str, subnets: list[str], group: str, vpc: str, instance: str) -> dict[str, Any]:
    client = seed_client(url, "elbv2")
    lb = client.create_load_balancer(
        Name="web", Subnets=subnets, SecurityGroups=[group], Scheme="internet-facing"
    )["LoadBalancers"][0]
    target_group = client.create_target_group(
        Name="web-tg", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    client.register_targets(TargetGroupArn=target_group, Targets=[{"Id": instance, "Port": 8080}])
    certificate = seed_client(url, "acm").request_certificate(DomainName="shop.example.com")
    client.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate["CertificateArn"]}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )
    return dict(lb) | {"CertificateArn": certificate["CertificateArn"]}


def _distribution(url: str, origins: list[str], certificate: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "CallerReference": "shop",
        "Comment": "shop",
        "Enabled": True,
        "Origins": {
            "Quantity": len(origins),
            "Items": [
                {
                    "Id": f"o{index}",
                    "DomainName": domain,
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                }
                for index, domain in enumerate(origins)
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "o0",
            "ViewerProtocolPolicy": "https-only",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
        },
        "ViewerCertificate": {"ACMCertificateArn": certificate, "SSLSupportMethod": "sni-only"},
    }
    answer = seed_client(url, "cloudfront").create_distribution(DistributionConfig=config)
    return dict(answer["Distribution"])


def _records(url: str, records: list[dict[str, Any]]) -> None:
    client = seed_client(url, "route53")
    zone = client.create_hosted_zone(Name="example.com.", CallerReference="links")
    changes = [{"Action": "CREATE", "ResourceRecordSet": record} for record in records]
    client.change_resource_record_sets(
        HostedZoneId=zone["HostedZone"]["Id"], ChangeBatch={"Changes": changes}
    )


def test_servers_disks_and_snapshots_link_to_what_they_belong_to(moto: str) -> None:
    _, subnets, group = _network(moto)
    ec2 = seed_client(moto, "ec2")
    instance = ec2.run_instances(
        ImageId="ami-0abcdef1234567890",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnets[0],
        SecurityGroupIds=[group],
    )["Instances"][0]["InstanceId"]
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=8)["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]

    server, disk = _uid("server", instance), _uid("disk", volume)
    assert Link(server, "protected_by", _uid("security_group", group)) in _links(moto, "server")
    assert Link(disk, "attached_to", server) in _links(moto, "disk")
    assert Link(_uid("snapshot", snapshot), "backs_up", disk) in _links(moto, "snapshot")


def test_a_read_replica_links_to_its_source_and_both_to_their_security_group(moto: str) -> None:
    _, _, group = _network(moto)
    rds = seed_client(moto, "rds")
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        VpcSecurityGroupIds=[group],
    )
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier="orders-ro", SourceDBInstanceIdentifier="orders"
    )

    links = _links(moto, "database")

    orders, replica = _uid("database", "orders"), _uid("database", "orders-ro")
    assert Link(replica, "replica_of", orders) in links
    assert Link(orders, "protected_by", _uid("security_group", group)) in links
    assert not any(link.kind == "replica_of" and link.from_uid == orders for link in links)


def test_a_cache_links_to_its_security_group_from_a_recorded_payload() -> None:
    # moto's cache clusters report no security groups (TESTING.md): the recorded payload does.
    resource = elasticache.normalize_group(payload("describe_replication_groups"), ORIGIN)

    add_links(resource)

    group = make_uid("aws", ORIGIN.account, ORIGIN.region, "security_group", "sg-0cache")
    assert resource.links == [Link(resource.uid, "protected_by", group)]


def test_a_load_balancer_targets_servers_serves_its_certificate_and_is_protected(
    moto: str,
) -> None:
    vpc, subnets, group = _network(moto)
    (instance,) = run_instances(moto, 1)
    lb = _balancer(moto, subnets, group, vpc, instance)

    links = _links(moto, "load_balancer")

    balancer = _uid("load_balancer", lb["LoadBalancerArn"])
    assert links == {
        Link(balancer, "targets", _uid("server", instance)),
        Link(balancer, "serves", _uid("certificate", lb["CertificateArn"])),
        Link(balancer, "protected_by", _uid("security_group", group)),
    }


def test_a_distribution_names_its_origins_and_serves_its_certificate(moto: str) -> None:
    certificate = seed_client(moto, "acm").request_certificate(DomainName="shop.example.com")
    arn = certificate["CertificateArn"]
    distribution = _distribution(
        moto, ["Web-LB-1.us-east-1.elb.amazonaws.com", "assets.s3.amazonaws.com"], arn
    )

    links = _links(moto, "cdn", region="global")

    cdn = _uid("cdn", distribution["Id"], region="global")
    assert links == {
        Link(cdn, "origin", "dns:web-lb-1.us-east-1.elb.amazonaws.com"),
        Link(cdn, "origin", "native:bucket:assets"),
        Link(cdn, "serves", _uid("certificate", arn)),
    }


def test_aliases_and_cnames_route_to_the_names_they_point_at(moto: str) -> None:
    alias = {"HostedZoneId": "Z35SXDOTRQ7X7K", "EvaluateTargetHealth": False}
    _records(
        moto,
        [
            {
                "Name": "shop.example.com.",
                "Type": "A",
                "AliasTarget": alias | {"DNSName": "dualstack.Web-1.us-east-1.elb.amazonaws.com."},
            },
            {
                "Name": "www.example.com.",
                "Type": "CNAME",
                "TTL": 300,
                "ResourceRecords": [{"Value": "d111.cloudfront.net"}],
            },
            {
                "Name": "mail.example.com.",
                "Type": "A",
                "TTL": 300,
                "ResourceRecords": [{"Value": "192.0.2.1"}],
            },
        ],
    )

    links = _links(moto, "dns_record", region="global")

    routes = {(link.from_uid.split("/")[-3], link.to_uid) for link in links}
    assert routes == {
        ("shop.example.com.", "dns:web-1.us-east-1.elb.amazonaws.com"),
        ("www.example.com.", "dns:d111.cloudfront.net"),
    }


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("assets.s3.amazonaws.com", "native:bucket:assets"),
        ("my.assets.s3.eu-west-1.amazonaws.com.", "native:bucket:my.assets"),
        ("assets.s3-website-us-east-1.amazonaws.com", "native:bucket:assets"),
        ("Shop.Example.com.", "dns:shop.example.com"),
    ],
)
def test_an_s3_endpoint_names_its_bucket_and_any_other_name_itself(name: str, target: str) -> None:
    assert name_target(name) == target


@pytest.mark.slow
def test_a_collection_resolves_names_to_the_resources_answering_them(
    moto: str, db_url: str
) -> None:
    vpc, subnets, group = _network(moto)
    (instance,) = run_instances(moto, 1)
    lb = _balancer(moto, subnets, group, vpc, instance)
    seed_client(moto, "s3").create_bucket(Bucket="assets")
    distribution = _distribution(
        moto, [lb["DNSName"], "assets.s3.amazonaws.com"], lb["CertificateArn"]
    )
    alias = {"HostedZoneId": "Z2FDTNDATAQYW2", "EvaluateTargetHealth": False}
    _records(
        moto,
        [
            {
                "Name": "shop.example.com.",
                "Type": "A",
                "AliasTarget": alias | {"DNSName": distribution["DomainName"] + "."},
            },
            {
                "Name": "gone.example.com.",
                "Type": "CNAME",
                "TTL": 60,
                "ResourceRecords": [{"Value": "old-lb.us-east-1.elb.amazonaws.com"}],
            },
        ],
    )
    db = Database(db_url)

    result = collect_pass(db, [source(moto)])

    assert not result.failed
    graph = topology(db, None)
    edges = {(e.from_uid.split("/")[3], e.kind, e.to, e.resolved) for e in graph.edges}
    cdn = _uid("cdn", distribution["Id"], region="global")
    balancer = _uid("load_balancer", lb["LoadBalancerArn"])
    record = next(n.uid for n in graph.nodes if n.name == "shop.example.com.")
    assert (record.split("/")[3], "routes_to", cdn, True) in edges
    assert ("cdn", "origin", balancer, True) in edges
    assert ("cdn", "origin", _uid("bucket", "assets"), True) in edges
    assert ("load_balancer", "targets", _uid("server", instance), True) in edges
    # A name nothing in the inventory answers to stays a name: not invented, not dropped.
    assert ("dns_record", "routes_to", "dns:old-lb.us-east-1.elb.amazonaws.com", False) in edges
