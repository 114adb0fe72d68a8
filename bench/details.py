"""Benchmark: per-item detail calls one at a time versus a few in flight (collectors/aws/details).

    .venv/bin/python bench/details.py [--buckets 200] [--tables 100] [--certificates 60]
        [--balancers 40] [--latency 0.03]

Seeds buckets (each with every configuration set, so every read answers 200 and is replayed),
DynamoDB tables, ACM certificates and application load balancers (a listener and a target
group each) in moto's server, records the answers through bench/replay.py's proxy, then times
each service's fetch (the real collector code) against the replayed answers at a fixed
latency, with 1 worker and with the default. ACM and ELB clients spend from the API budgets
(collectors/aws/budget.py) as the collector's do, so their pooled time is bounded by AWS's
rates, not by the pool. Prints one line per service.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3

from bench.replay import ReplayProxy
from collectors.aws import acm, details, dynamodb, elb, s3
from collectors.aws.budget import DEFAULT_RATES, Budgets
from tests.fixtures.services import free_port, wait_for_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}


def seed(url: str, buckets: int, tables: int) -> None:
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=url)
    for n in range(buckets):
        name = f"bench-{n:05d}"
        client.create_bucket(Bucket=name)
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        client.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "n", "Value": str(n)}]})
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        client.put_bucket_encryption(
            Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]}
        )
        block = dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"),
            True,
        )
        client.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=block)
        statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    table_client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=url)
    for n in range(tables):
        table_client.create_table(
            TableName=f"bench-{n:05d}",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def seed_web(url: str, certificates: int, balancers: int) -> None:
    certs = boto3.client("acm", region_name="us-east-1", endpoint_url=url)
    for n in range(certificates):
        certs.request_certificate(DomainName=f"c{n}.bench.example", ValidationMethod="DNS")
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=url)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for n, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]
    lbs = boto3.client("elbv2", region_name="us-east-1", endpoint_url=url)
    for n in range(balancers):
        arn = lbs.create_load_balancer(Name=f"bench-{n}", Subnets=subnets)["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
        group = lbs.create_target_group(Name=f"bench-{n}", Protocol="HTTP", Port=80, VpcId=vpc)
        group_arn = group["TargetGroups"][0]["TargetGroupArn"]
        lbs.create_listener(
            LoadBalancerArn=arn,
            Protocol="HTTP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
        )


def timed(fetch: Any) -> tuple[float, int]:
    started = time.monotonic()
    count = sum(len(page) for page in fetch())
    return time.monotonic() - started, count


def budget_floor(label: str, items: int, calls: int) -> float:
    """Seconds the API budgets need at least: ACM spends one DescribeCertificate and one
    ListTagsForCertificate per item from two buckets; ELB every call from one."""
    if label == "acm certificates":
        rate = DEFAULT_RATES["acm"]
        return max(0.0, items - rate.capacity) / rate.rate
    if label == "elbv2 balancers":
        rate = DEFAULT_RATES["elbv2"]
        return max(0.0, calls - rate.capacity) / rate.rate
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buckets", type=int, default=200)
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--certificates", type=int, default=60)
    parser.add_argument("--balancers", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.03)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        seed(f"http://127.0.0.1:{port}", args.buckets, args.tables)
        seed_web(f"http://127.0.0.1:{port}", args.certificates, args.balancers)
        proxy = ReplayProxy(f"http://127.0.0.1:{port}").start()
        s3_client = boto3.client("s3", region_name="us-east-1", endpoint_url=proxy.url)
        ddb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=proxy.url)

        def budgeted(service: str) -> Any:
            """A client with fresh (full) API budgets, as a scope of a new pass has."""
            client = boto3.client(service, region_name="us-east-1", endpoint_url=proxy.url)
            return Budgets("bench", {}).attach(client, "", "us-east-1")

        fetches = {
            "s3 buckets": lambda: s3.fetch_buckets(s3_client),
            "dynamodb tables": lambda: dynamodb.fetch_tables(ddb),
            "acm certificates": lambda: acm.fetch_certificates(budgeted("acm")),
            "elbv2 balancers": lambda: elb.fetch_v2(budgeted("elbv2")),
        }
        for fetch in fetches.values():
            timed(fetch)  # the recording pass
        proxy.replay(args.latency)
        print(f"# latency per API request: {args.latency * 1000:.0f} ms")
        for label, fetch in fetches.items():
            walls = {}
            for workers in (1, details.DETAIL_WORKERS):
                details.DETAIL_WORKERS, default = workers, details.DETAIL_WORKERS
                proxy.calls.clear()
                walls[workers], count = timed(fetch)
                calls = sum(proxy.calls.values())
                details.DETAIL_WORKERS = default
            sequential, pooled = walls[1], walls[max(walls)]
            print(
                f"{label}: {count} items, {calls} API calls; one at a time {sequential:.2f}s, "
                f"budget floor {budget_floor(label, count, calls):.2f}s, "
                f"{max(walls)} in flight {pooled:.2f}s ({sequential / pooled:.1f}x faster); "
                f"sequential floor {calls * args.latency:.2f}s; {proxy.misses} replay misses"
            )
        proxy.stop()
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
