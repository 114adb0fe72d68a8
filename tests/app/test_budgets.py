"""Where a process's AWS budgets live: shared through PostgreSQL by every process of a pass
(and by queue workers), in the process on SQLite; an unreachable store fails the scope."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collectors.aws import AwsCollector, budget
from collectors.aws.budget import ApiRate, Budgets
from tests.factories.aws import source
from tests.fixtures.awsproxy import AwsProxy
from vigil.app.budgets import budgets_shared_through, share_budgets
from vigil.app.executor import Message, stream_scope
from vigil.core.model import RunStatus


def test_a_source_budgets_are_spent_from_the_shared_store(pg_url: str) -> None:
    """Two processes' `Budgets` (here: two objects) spend one bucket through the store."""
    with budgets_shared_through(pg_url) as shared:
        assert shared
        rates = {"route53": ApiRate(rate=2, burst=5)}
        first, second = Budgets("prod", rates), Budgets("prod", rates)
        a = first.bucket("", "us-east-1", "route53", "ListHostedZones")
        b = second.bucket("", "us-east-1", "route53", "ListHostedZones")
        assert a is not None and b is not None
        waits = [bucket.take() for bucket in (a, b) * 3]
    assert waits[:5] == [0] * 5 and waits[5] > 0.25  # the two spent one burst of 5
    assert budget.current_store() is None  # the pass is over: in-process buckets again


def test_an_unreachable_budget_store_fails_the_scope_as_retryable_and_sends_nothing(
    moto: str, unreachable_url: str, aws_proxy: Callable[..., AwsProxy]
) -> None:
    proxy = aws_proxy()
    collector = AwsCollector(source(proxy.url))
    [scope] = [s for s in collector.plan({"disk"}) if s.region == "us-east-1"]
    before = proxy.count  # planning may ask STS (no budget) who the account is
    messages: list[Message] = []
    with budgets_shared_through(unreachable_url):
        stream_scope(collector, scope, messages.append, lambda: False)
    [failed] = [m for m in messages if m.kind == RunStatus.FAILED]
    assert failed.retryable is True
    assert failed.error is not None and "shared AWS API budgets" in failed.error
    assert "s3cret" not in failed.error
    assert proxy.count == before  # no EC2 request went out without its token


def test_budgets_stay_in_the_process_on_sqlite(tmp_path: Path) -> None:
    assert share_budgets(f"sqlite:///{tmp_path}/v.db") is False
    assert budget.current_store() is None
