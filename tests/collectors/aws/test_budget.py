"""API budgets: requests per bucket stay within burst + rate × t, shared by every thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collectors import throttles
from collectors.aws import budget
from collectors.aws.budget import ApiRate, Budgets, TokenBucket
from collectors.aws.session import Sessions
from storage.db import Database
from tests.factories.aws import source
from tests.fixtures.awsproxy import AwsProxy
from vigil.app.metrics import VigilCollector, registry_for

JITTER = 0.05
"""Seconds of thread scheduling between a token taken and the request leaving the client."""


def most_in_any_window(times: list[float], rate: float, burst: float, jitter: float) -> bool:
    ordered = sorted(times)
    return all(
        (j - i + 1) <= burst + rate * (ordered[j] - ordered[i] + jitter)
        for i in range(len(ordered))
        for j in range(i, len(ordered))
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@given(
    rate=st.floats(0.5, 50),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=60),
)
def test_a_bucket_admits_at_most_burst_plus_rate_times_t(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)
    sent = []
    for gap in gaps:
        clock.now += gap
        bucket.take()
        sent.append(clock.now)
    assert most_in_any_window(sent, rate, burst, jitter=1e-9)


def test_an_idle_bucket_sends_its_burst_at_once_then_paces() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, capacity=3, clock=clock, sleep=clock.sleep)
    waits = [bucket.take() for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3:] == [0.5, 0.5]


def test_acm_apis_have_a_bucket_each_and_ec2_apis_share_one() -> None:
    budgets = Budgets("prod", {})
    listing = budgets.bucket("", "us-east-1", "acm", "ListCertificates")
    describe = budgets.bucket("", "us-east-1", "acm", "DescribeCertificate")
    assert listing is not None and describe is not None and listing is not describe
    assert (listing.rate, describe.rate) == (1, 10)
    instances = budgets.bucket("", "us-east-1", "ec2", "DescribeInstances")
    assert instances is budgets.bucket("", "us-east-1", "ec2", "DescribeVolumes")
    assert instances is not budgets.bucket("", "eu-west-1", "ec2", "DescribeInstances")
    assert budgets.bucket("", "us-east-1", "s3", "ListBuckets") is None  # no published rate


def test_a_source_overrides_a_default_rate() -> None:
    budgets = Budgets("prod", {"ec2": ApiRate(rate=50, burst=200)})
    bucket = budgets.bucket("", "us-east-1", "ec2", "DescribeInstances")
    assert bucket is not None and (bucket.rate, bucket.capacity) == (50, 200)


def test_threads_sharing_a_client_stay_within_the_budget(moto: str) -> None:
    rate, burst, threads, calls = 10.0, 3, 4, 8
    sent: list[float] = []
    with AwsProxy(moto) as proxy:
        sessions = Sessions(source(proxy.url, api_rates={"ec2": {"rate": rate, "burst": burst}}))
        client = sessions.client("ec2", "us-east-1")
        # Registered after the budget's handler: the moment each request leaves the client.
        # (The proxy's arrival times add the loopback server's scheduling on a busy machine.)
        client.meta.events.register("before-send", lambda **_: sent.append(time.monotonic()))

        def caller() -> None:
            for _ in range(calls):
                client.describe_instances()

        workers = [threading.Thread(target=caller) for _ in range(threads)]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - started
        received = [r for r in proxy.requests if r.operation == "DescribeInstances"]

    assert len(received) == len(sent) == threads * calls
    assert most_in_any_window(sent, rate, burst, JITTER)
    assert elapsed >= (threads * calls - burst) / rate - JITTER  # the budget was spent, not skipped


def test_throttling_responses_are_counted_per_api_and_scraped(moto: str, tmp_path: Path) -> None:
    before = throttles.process_counts().get(("test", "ec2", "DescribeVolumes"), 0)
    with AwsProxy(moto, throttle_first_n=2) as proxy:
        client = Sessions(source(proxy.url, max_attempts=4)).client("ec2", "us-east-1")
        client.describe_volumes()  # throttled twice, then answered
        assert len(proxy.outcomes("throttled")) == 2
    assert throttles.process_counts()[("test", "ec2", "DescribeVolumes")] == before + 2

    db = Database(f"sqlite:///{tmp_path}/v.db")
    text = generate_latest(registry_for(VigilCollector(db, intervals={}))).decode()
    [family] = [f for f in text_string_to_metric_families(text) if f.name == "vigil_aws_throttled"]
    [sample] = [
        s for s in family.samples
        if s.labels == {"source": "test", "service": "ec2", "operation": "DescribeVolumes"}
        and s.name.endswith("_total")
    ]  # fmt: skip
    assert sample.value == before + 2


@given(cap=st.integers(1, 64), processes=st.integers(1, 16))
def test_worker_processes_split_service_concurrency_within_the_cap(
    cap: int, processes: int
) -> None:
    """`service_concurrency: 4` over 2 worker processes is 2 each: together within the cap
    whenever the cap is at least their number, and never a process left with none."""
    try:
        budget.share_among(processes)
        each = budget.share_of_concurrency(cap)
    finally:
        budget.share_among(1)
    assert each >= 1
    assert each * processes <= max(cap, processes)
    assert each == cap // processes or cap < processes
