"""`collector.failing`: a scope that has not completed within its staleness window.

A failing scope freezes its part of the inventory (a failed scope changes nothing), so its
findings can neither resolve nor appear: this rule is how users learn that part of the
picture is stale.

A scope denied by IAM that has never completed (an old role after an upgrade adds a type) is
`not permitted` (DESIGN.md, Invariants): not a page but one low finding per source and IAM
action, naming the action to grant and the scopes it blocks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta

from pydantic import Field

from rules.base import finding
from rules.compliance import Controls
from rules.view import InventoryView, ScopeState
from vigil.core.errors import grant_hint
from vigil.core.model import PLAN_TYPE, Finding, Resource, RunStatus, Severity
from vigil.core.schema import Duration, StrictModel
from vigil.core.timeutil import format_duration


class FailingParams(StrictModel):
    """`rules.params.collector.failing`: the staleness window.

    Default: three collection intervals (`schedule.collect_every`), or 1h when unknown.
    """

    staleness: Duration | None = Field(default=None)


def window_of(view: InventoryView, params: FailingParams) -> timedelta:
    # check.py builds the view with this param, so both agree; a view built without it
    # (tests, benchmarks) still honours the param here.
    return params.staleness or view.staleness_window


def scope_subject(scope: ScopeState) -> Resource:
    """A scope stands in as the finding's resource: `scope:<key>`, one finding per scope."""
    return Resource(
        source=scope.source,
        provider=scope.provider,
        account=scope.account,
        region=scope.region,
        type=scope.type,
        native_id=scope.scope_key,
        name=scope.scope_key,
        uid=f"scope:{scope.scope_key}",
    )


class CollectorFailing:
    """A scope whose last complete run is older than the staleness window, or that has
    never completed (its newest run failed, or has been running longer than the window)."""

    id = "collector.failing"
    title = "Collector failing"
    severity = Severity.HIGH
    resource_types: tuple[str, ...] = ()
    params_model = FailingParams
    remediation = (
        "Read the scope's error (`vigil collect` prints it): grant the missing read "
        "permission, fix the credentials or endpoint, or remove the source from the config."
    )
    # Vigil is a change-detection and security-testing control: its failing is PCI 10.7.2's.
    compliance: Controls = {
        "soc2-2017": ("CC7.2",),
        "iso27001-2022": ("A.8.16",),
        "pci-dss-4.0": ("10.7.2",),
    }

    def evaluate(self, view: InventoryView, params: FailingParams) -> Iterator[Finding]:
        window = window_of(view, params)
        recovered = _recovered_plans(view.scopes)
        denied: dict[tuple[str, str], list[ScopeState]] = defaultdict(list)
        for scope in view.scopes:
            if view.sources is not None and scope.source not in view.sources:
                continue  # a source removed from the config is not failing, it is gone
            if scope.scope_key in recovered:
                continue
            if action := scope.not_permitted:
                denied[(scope.source, action)].append(scope)
                continue
            since = _stale_since(scope, view.now, window)
            if since is None:
                continue
            yield _failing(self, scope, since, view.now, window)
        for (source, action), scopes in sorted(denied.items()):
            yield _not_permitted(self, source, action, scopes)


def _recovered_plans(scopes: list[ScopeState]) -> set[str]:
    """Plan pseudo-scopes whose source has completed a real scope since the plan failed.

    A plan failure is recorded once, under type `*`, and never completes by itself: once
    the source plans and collects again, it is over (as the `/metrics` staleness says too).
    """
    newest: dict[str, datetime] = {}
    for scope in scopes:
        if scope.type != PLAN_TYPE and scope.last_complete is not None:
            previous = newest.get(scope.source)
            if previous is None or scope.last_complete > previous:
                newest[scope.source] = scope.last_complete
    return {
        scope.scope_key
        for scope in scopes
        if scope.type == PLAN_TYPE
        and scope.status != RunStatus.COMPLETE
        and scope.source in newest
        and (scope.started_at is None or newest[scope.source] >= scope.started_at)
    }


def _stale_since(scope: ScopeState, now: datetime, window: timedelta) -> datetime | None:
    """When the scope's data started to count as stale, or None when it is fresh."""
    if scope.last_complete is not None:
        return scope.last_complete if now - scope.last_complete > window else None
    if scope.status == RunStatus.FAILED:
        return scope.started_at or now
    started = scope.started_at
    return started if started is not None and now - started > window else None


def _failing(
    rule: CollectorFailing, scope: ScopeState, since: datetime, now: datetime, window: timedelta
) -> Finding:
    subject = scope_subject(scope)
    if scope.last_complete is None:
        title = f"scope {scope.scope_key} has never completed"
    else:
        age = format_duration(now - scope.last_complete)
        title = (
            f"scope {scope.scope_key} last completed {age} ago (window {format_duration(window)})"
        )
    error = scope.error or f"newest run is {scope.status}"
    return finding(
        rule,
        subject,
        title,
        f"Newest run: {scope.status}; {error}. {scope.failures_total} failed run(s) in total.",
        evidence={
            "status": scope.status,
            "error": scope.error,
            "last_complete": scope.last_complete.isoformat() if scope.last_complete else None,
            "stale_since": since.isoformat(),
            "failures_total": scope.failures_total,
            "window_seconds": int(window.total_seconds()),
        },
    )


def _not_permitted(
    rule: CollectorFailing, source: str, action: str, scopes: list[ScopeState]
) -> Finding:
    """One low finding for every never-completed scope of `source` that IAM denies `action`."""
    keys = sorted(s.scope_key for s in scopes)
    first = scopes[0]
    subject = Resource(
        source=source,
        provider=first.provider,
        account=first.account if len({s.account for s in scopes}) == 1 else "*",
        region=first.region if len({s.region for s in scopes}) == 1 else "*",
        type=first.type if len({s.type for s in scopes}) == 1 else "*",
        native_id=action,
        name=action,
        uid=f"permission:{source}/{action}",
    )
    count = f"{len(keys)} scope(s)" if len(keys) > 1 else f"scope {keys[0]}"
    return finding(
        rule,
        subject,
        f"source {source} is not permitted to call {action}: {count} never collected",
        f"Not permitted: {action} was denied every time and the scope never completed. "
        f"{grant_hint(action)} (deploy/ holds the read-only policy). "
        f"Scopes: {', '.join(keys)}.",
        severity=Severity.LOW,
        evidence={"status": "not permitted", "action": action, "scopes": keys},
    )
