"""The `check` use case: read the inventory once, run the rules, fold findings into storage.

Everything that can fail on bad input (config, rule packs, Terraform state files) fails in
`prepare_engine`, before the CLI opens the database, and again at worst during evaluation,
before the findings transaction starts: a bad input writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.engine import Engine, Evaluation
from rules.health import CollectorFailing
from rules.view import Change, InventoryView, PastState, ScopeState
from storage import history, inventory, runs
from storage.db import Database
from storage.exposure import entry_points
from storage.findings import FindingStore, TransitionHook
from storage.links import present_of_kinds
from storage.runs import finished_status
from vigil.app.baselines import fetch_remote_states
from vigil.app.config import VigilConfig
from vigil.app.gc_tuning import fewer_gc_pauses
from vigil.core.model import Finding, FindingStatus, Link, RunStatus, Severity, utcnow
from vigil.core.transitions import Transition


@dataclass
class CheckResult:
    """What a check did: the findings produced, their transitions, and the open counts."""

    evaluation: Evaluation
    transitions: list[Transition]
    open_by_severity: dict[Severity, int]
    resources: int

    @property
    def findings(self) -> list[Finding]:
        return self.evaluation.findings

    def open_at_least(self, threshold: Severity) -> int:
        """Open, unsilenced findings at or above `threshold` (what `--fail-on` counts)."""
        return sum(n for sev, n in self.open_by_severity.items() if sev.at_least(threshold))


def build_view(
    db: Database,
    config: VigilConfig | None = None,
    *,
    now: datetime | None = None,
    staleness: timedelta | None = None,
) -> InventoryView:
    """The present inventory, scope states and a change loader, read once from storage."""
    now = now or utcnow()
    sources = _source_names(config)
    return InventoryView.build(
        inventory.inventory(db),
        now=now,
        scopes=scope_states(db),
        change_loader=lambda since: _changes(db, since),
        history_loader=lambda needles: _past_states(db, needles),
        link_loader=lambda kinds: _links(db, kinds),
        collect_every=config.schedule.collect_every if config else None,
        sources=sources,
        staleness=staleness,
    )


def _source_names(config: VigilConfig | None) -> frozenset[str] | None:
    if config is None or not config.sources:
        return None
    names: list[str] = [source.name for source in config.sources]
    return frozenset(names)


def scope_states(db: Database) -> list[ScopeState]:
    """Every scope, with the status of its newest *finished* run (a run in flight has not
    changed the inventory yet, so the previous outcome is still what the data reflects)."""
    with db.connect() as conn:
        finished = finished_status(conn)
    return [
        ScopeState(
            scope_key=s.scope_key,
            source=s.source,
            provider=s.provider,
            account=s.account,
            region=s.region,
            type=s.type,
            status=finished.get(s.scope_key, s.status)
            if s.status == RunStatus.RUNNING
            else s.status,
            error=s.error,
            started_at=s.started_at,
            finished_at=s.finished_at,
            last_complete=s.last_complete,
            failures_total=s.failures_total,
        )
        for s in runs.scope_statuses(db)
    ]


def _changes(db: Database, since: datetime) -> Iterator[Change]:
    for event in history.changes(db, since=since, kinds=("changed",)):
        yield Change(uid=event.uid, changes=event.changes, at=event.at)


def _links(db: Database, kinds: Collection[str]) -> list[Link]:
    with db.connect() as conn:
        return present_of_kinds(conn, kinds)


def _past_states(db: Database, needles: Collection[str]) -> Iterator[PastState]:
    for row in history.states_mentioning(db, needles):
        yield PastState(row["provider"], row["type"], row["attributes"] or {})


def prepare_engine(config: VigilConfig | None) -> Engine:
    """The configured engine, with every input file it reads checked (rule packs, Terraform
    state, fetched from S3 when remote): call it before opening the database, so bad input
    exits 2 and writes nothing."""
    engine = Engine.from_config(config.rules if config else None)
    fetch_remote_states(engine, config)  # s3:// Terraform state, read-only
    engine.check_inputs()
    return engine


def escalate_exposed(db: Database, findings: list[Finding], rules: frozenset[str]) -> int:
    """Raise by one step the severity of `rules`' findings whose resource is reachable from a
    public entry point (DESIGN.md → Severity); returns how many. Unknown links escalate
    nothing."""
    wanted = [found for found in findings if found.rule in rules]
    if not wanted:
        return 0
    with db.connect() as conn:
        exposure = entry_points(conn, {found.resource_uid for found in wanted})
    raised = 0
    for found in wanted:
        if exposure.get(found.resource_uid) and found.severity != Severity.CRITICAL:
            found.base_severity = found.severity
            found.severity = found.severity.raised()
            found.labels["severity"] = found.severity.value
            raised += 1
    return raised


def run_check(
    db: Database,
    config: VigilConfig | None = None,
    *,
    now: datetime | None = None,
    engine: Engine | None = None,
    on_transitions: TransitionHook | None = None,
) -> CheckResult:
    """Evaluate every enabled rule and apply the findings; `on_transitions` runs inside the
    findings transaction (the alerting outbox hooks in there)."""
    now = now or utcnow()
    engine = engine or prepare_engine(config)
    with fewer_gc_pauses():
        failing = engine.params_of(CollectorFailing.id)
        view = build_view(db, config, now=now, staleness=failing.staleness if failing else None)
        evaluation = engine.evaluate(view)
        escalate_exposed(db, evaluation.findings, engine.escalating)
        store = FindingStore(db)
        transitions = store.apply(
            evaluation.findings,
            now,
            on_transitions=on_transitions,
            unjudged=evaluation.unjudged,
            rules=evaluation.params,
        )
    counts = store.counts()
    open_by_severity = {
        sev: counts.get((FindingStatus.OPEN.value, sev.value), 0) for sev in Severity
    }
    return CheckResult(evaluation, transitions, open_by_severity, view.count())
