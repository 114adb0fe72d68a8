"""AwsCollector: planning scopes, independent collection, bounded per-service concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from collectors.aws import AwsCollector, service_semaphore
from collectors.base import Collector
from tests.factories.aws import ACCOUNT, collect, run_instances, source
from tests.fixtures.awsproxy import AwsProxy
from vigil.core.model import Scope

REGIONS = ["us-east-1", "eu-west-1"]


def test_satisfies_the_collector_protocol(moto: str) -> None:
    collector: Collector = AwsCollector(source(moto))

    assert collector.provider == "aws"
    assert set(AwsCollector.resource_types) == {
        "server", "disk", "snapshot", "security_group", "certificate",
        "dns_zone", "dns_record", "database", "load_balancer", "cdn", "bucket",
        "cache", "kubernetes_cluster", "function",
    }  # fmt: skip


def test_plan_is_regions_by_types_with_global_types_once(moto: str) -> None:
    scopes = list(AwsCollector(source(moto, regions=REGIONS)).plan())

    regional = [s for s in scopes if s.region != "global"]
    assert len(regional) == 10 * len(REGIONS)  # server ... cache, kubernetes_cluster, function
    assert sorted(s.type for s in scopes if s.region == "global") == [
        "bucket", "cdn", "dns_record", "dns_zone",
    ]  # fmt: skip
    assert {s.account for s in scopes} == {ACCOUNT}
    assert len({s.key for s in scopes}) == len(scopes)


def test_plan_honours_requested_and_configured_types(moto: str) -> None:
    collector = AwsCollector(source(moto, regions=REGIONS, types=["server", "dns_zone"]))

    types = {s.type for s in collector.plan({"server", "disk"})}

    assert types == {"server"}


def test_a_scope_runs_on_a_fresh_collector_from_config_and_scope_alone(moto: str) -> None:
    run_instances(moto, 2, region="eu-west-1")
    config = source(moto, regions=REGIONS)
    planned = next(s for s in AwsCollector(config).plan({"server"}) if s.region == "eu-west-1")

    shipped = Scope.from_dict(planned.to_dict())
    first = collect(AwsCollector(config), shipped)
    again = collect(AwsCollector(config), shipped)

    assert shipped == planned
    assert len(first) == 2
    assert [r.to_dict() for r in first] == [r.to_dict() for r in again]


def test_service_concurrency_bounds_scopes_in_flight(
    moto: str, aws_proxy: Callable[..., AwsProxy]
) -> None:
    proxy = aws_proxy(latency=0.2)
    config = source(proxy.url, name="bounded", regions=REGIONS, service_concurrency=1)
    collector = AwsCollector(config)
    # server and disk scopes of one region both call EC2 there: one at a time.
    scopes = [Scope("bounded", "aws", ACCOUNT, REGIONS[0], type_) for type_ in ("server", "disk")]
    in_flight, peak, lock = [0], [0], threading.Lock()

    def run(one: Scope) -> None:
        for _ in collector.collect(one):
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            threading.Event().wait(0.1)  # hold the page while the other scope tries to start
            with lock:
                in_flight[0] -= 1

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, scopes))

    assert peak[0] == 1
    same = service_semaphore("bounded", "ec2", REGIONS[0], 1)
    assert same is service_semaphore("bounded", "ec2", REGIONS[0], 1)
    assert same is not service_semaphore("bounded", "ec2", REGIONS[1], 1)


@pytest.mark.parametrize("role_arn", ["VigilReadOnly", "arn:aws:iam::role/VigilReadOnly"])
def test_a_role_arn_that_is_not_an_arn_is_a_config_error(moto: str, role_arn: str) -> None:
    """The account is read from the ARN: a bare name must not reach plan (an IndexError there
    would stop the whole collection pass, every source with it)."""
    with pytest.raises(ValueError, match="is not a role ARN; write it as arn:aws:iam::"):
        source(moto, role_arn=role_arn)
