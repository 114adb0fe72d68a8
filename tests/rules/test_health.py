"""collector.failing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from rules.health import CollectorFailing
from rules.view import ScopeState
from tests.factories.rules import NOW, evaluate, one, scope_state, view
from vigil.core.model import Severity

FAILING = CollectorFailing()


def test_scope_that_completed_recently_is_fine() -> None:
    assert evaluate(FAILING, view(scopes=[scope_state("server")])) == []


def test_scope_whose_last_completion_is_older_than_the_window_is_failing() -> None:
    stale = scope_state(
        "server", status="failed", error="AccessDenied", last_complete=NOW - timedelta(hours=3)
    )
    found = one(evaluate(FAILING, view(scopes=[stale])))
    assert found.severity is Severity.HIGH
    assert (
        found.title
        == "scope aws-test/111111111111/us-east-1/server last completed 3h ago (window 1h)"
    )
    assert "AccessDenied" in found.detail
    assert found.resource_uid == "scope:aws-test/111111111111/us-east-1/server"


def test_scope_that_never_completed_is_failing() -> None:
    never = scope_state("disk", status="failed", last_complete=None)
    assert one(evaluate(FAILING, view(scopes=[never]))).title.endswith("has never completed")


def test_window_defaults_to_three_collection_intervals() -> None:
    stale = scope_state("server", last_complete=NOW - timedelta(minutes=50))
    assert evaluate(FAILING, view(scopes=[stale])) == []  # 1h without a schedule
    assert len(evaluate(FAILING, view(scopes=[stale], collect_every=timedelta(minutes=15)))) == 1


def test_window_from_params() -> None:
    stale = scope_state("server", last_complete=NOW - timedelta(hours=5))
    assert evaluate(FAILING, view(scopes=[stale]), staleness="6h") == []


def test_first_run_in_progress_is_not_failing_yet() -> None:
    running = scope_state(
        "server", status="running", last_complete=None, started_at=NOW - timedelta(minutes=5)
    )
    assert evaluate(FAILING, view(scopes=[running])) == []


def test_scopes_of_sources_no_longer_configured_are_ignored() -> None:
    gone = scope_state("server", status="failed", last_complete=None, source="old-source")
    assert evaluate(FAILING, view(scopes=[gone], sources=frozenset({"aws-test"}))) == []


def _plan_failure(started_minutes_ago: int) -> ScopeState:
    """The pseudo-scope `vigil collect` records when a source cannot be planned."""
    base = scope_state("*", status="failed", last_complete=None, error="cannot list regions")
    return replace(
        base,
        scope_key="aws-test/*/*/*",
        account="*",
        region="*",
        started_at=NOW - timedelta(minutes=started_minutes_ago),
    )


def test_a_plan_failure_is_failing_until_the_source_completes_a_scope_again() -> None:
    failing = one(evaluate(FAILING, view(scopes=[_plan_failure(30)])))
    assert failing.resource_uid == "scope:aws-test/*/*/*"
    # It failed 30 minutes ago, and a scope of the source completed 10 minutes ago.
    recovered = view(scopes=[_plan_failure(30), scope_state("server")])
    assert evaluate(FAILING, recovered) == []


def test_a_plan_failure_after_the_last_completion_still_counts() -> None:
    inventory = view(scopes=[_plan_failure(5), scope_state("server")])
    assert one(evaluate(FAILING, inventory)).resource_uid == "scope:aws-test/*/*/*"


def denied(type_: str, region: str = "us-east-1", action: str = "ec2:DescribeSnapshots") -> str:
    """The error text the AWS collector stores for an IAM denial (collectors/aws/failures.py)."""
    operation = action.split(":")[1]
    return (
        f"aws source 'aws-test' (account 111111111111, region {region}, service ec2): "
        f"UnauthorizedOperation calling {operation}: You are not authorized to perform this "
        f"operation. Grant {action} to the role or user Vigil uses (see deploy/ for the "
        "read-only IAM policy), or check that the credentials have not expired"
    )


def test_a_scope_iam_never_permitted_is_one_low_finding_per_source_and_action() -> None:
    scopes = [
        scope_state(
            "snapshot",
            status="failed",
            last_complete=None,
            region=region,
            error=denied("snapshot", region),
        )  # fmt: skip
        for region in ("us-east-1", "eu-west-1", "ap-south-1")
    ]
    found = one(evaluate(FAILING, view(scopes=scopes)))
    assert found.severity is Severity.LOW
    assert found.title == (
        "source aws-test is not permitted to call ec2:DescribeSnapshots: 3 scope(s) never collected"
    )
    assert found.evidence["status"] == "not permitted"
    assert found.evidence["action"] == "ec2:DescribeSnapshots"
    assert len(found.evidence["scopes"]) == 3
    assert "Grant ec2:DescribeSnapshots" in found.detail


def test_each_denied_action_is_its_own_finding() -> None:
    scopes = [
        scope_state("snapshot", status="failed", last_complete=None, error=denied("snapshot")),
        scope_state(
            "disk",
            status="failed",
            last_complete=None,
            error=denied("disk", action="ec2:DescribeVolumes"),
        ),  # fmt: skip
    ]
    found = evaluate(FAILING, view(scopes=scopes))
    assert sorted(f.evidence["action"] for f in found) == [
        "ec2:DescribeSnapshots",
        "ec2:DescribeVolumes",
    ]


def test_a_denial_after_a_completion_is_still_a_page() -> None:
    # The role lost a permission it had: data that was current goes stale, that is failing.
    revoked = scope_state("snapshot", status="failed", error=denied("snapshot"),
                          last_complete=NOW - timedelta(hours=3))  # fmt: skip
    assert one(evaluate(FAILING, view(scopes=[revoked]))).severity is Severity.HIGH


def test_bad_credentials_are_not_a_missing_permission() -> None:
    expired = scope_state(
        "server", status="failed", last_complete=None,
        error="aws source 'aws-test' (...): ExpiredToken calling DescribeInstances: expired. "
        "Grant ec2:DescribeInstances to the role or user Vigil uses",
    )  # fmt: skip
    assert one(evaluate(FAILING, view(scopes=[expired]))).severity is Severity.HIGH


def test_a_not_permitted_scope_is_unknown_for_the_rules_that_read_it() -> None:
    never = scope_state("snapshot", status="failed", last_complete=None, error=denied("snapshot"))
    assert never.not_permitted == "ec2:DescribeSnapshots"
    assert not view(scopes=[never]).scope_known(never)
