"""The findings lifecycle against real storage (SQLite and PostgreSQL), fed by Reconciler."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from storage.reconcile import Reconciler
from storage.silences import SilenceStore
from storage.tables import findings_table
from tests.factories import resource, scope
from vigil.app.check import run_check
from vigil.app.config import parse_config
from vigil.core.model import FindingStatus, Resource, Scope, Severity, fingerprint
from vigil.core.transitions import StoredFinding, Transition, TransitionKind

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DISKS = scope(type_="disk")
SNAPSHOTS = scope(type_="snapshot")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: int = 15) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now


def disk(native_id: str = "vol-1", within: Scope = DISKS, **tags: str) -> Resource:
    return resource(native_id, within=within, tags=tags, attached_to=["i-1"], size_gb=10)


def snapshot_of(volume: Resource) -> Resource:
    return resource(
        f"snap-{volume.native_id}",
        within=SNAPSHOTS,
        source_uid=volume.uid,
        state="completed",
        started_at="2026-11-01T00:00:00Z",
    )


class Estate:
    """Scans through the real write path, and checks at the same clock."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = Clock()
        self.reconciler = Reconciler(db, clock=self.clock)
        # Snapshots were collected and there are none: backup.missing judges only then.
        self.scan(SNAPSHOTS)

    def scan(self, target: Scope, *resources: Resource, fail: bool = False) -> None:
        self.clock.tick()
        run = self.reconciler.start(target)
        if fail:
            self.reconciler.add_page(run, list(resources))
            self.reconciler.fail(run, "AccessDenied")
            return
        self.reconciler.add_page(run, list(resources))
        self.reconciler.complete(run)

    def check(self, **kwargs: object) -> list[Transition]:
        return run_check(self.db, now=self.clock.tick(1), **kwargs).transitions  # type: ignore[arg-type]

    def status(self, rule: str, resource_uid: str) -> FindingStatus | None:
        wanted = fingerprint(rule, resource_uid)
        for found in FindingStore(self.db).findings(FindingQuery(statuses=())):
            if found.fingerprint == wanted:
                return found.status
        return None


def kinds(transitions: Sequence[Transition], rule: str = "backup.missing") -> list[str]:
    return [t.kind.value for t in transitions if t.finding.rule == rule]


def test_open_resolved_reopened(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.scan(DISKS, volume)
    estate.scan(SNAPSHOTS)
    assert kinds(estate.check()) == ["new"]
    assert kinds(estate.check()) == ["still_open"]

    estate.scan(SNAPSHOTS, snapshot_of(volume))
    assert kinds(estate.check()) == ["resolved"]
    assert estate.status("backup.missing", volume.uid) is FindingStatus.RESOLVED

    estate.scan(SNAPSHOTS)  # the snapshot was deleted
    transitions = estate.check()
    assert kinds(transitions) == ["reopened"]
    (reopened,) = [t.finding for t in transitions if t.finding.rule == "backup.missing"]
    assert reopened.reopened_count == 1
    assert reopened.first_seen < reopened.last_seen
    assert reopened.resolved_at is None


def test_deletion_by_a_completed_scope_resolves(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.scan(DISKS, volume)
    estate.check()
    estate.scan(DISKS)  # completed, volume gone
    assert kinds(estate.check()) == ["resolved"]


def test_failed_scope_keeps_status_even_when_the_rule_no_longer_fires(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.scan(DISKS, volume)
    estate.check()
    estate.scan(DISKS, fail=True)
    estate.scan(DISKS, fail=True)
    # The snapshot scope completed with a backup, but the disk's own scope failed: its
    # finding is frozen rather than resolved on partial knowledge.
    estate.scan(SNAPSHOTS, snapshot_of(volume))
    assert kinds(estate.check()) == []
    assert estate.status("backup.missing", volume.uid) is FindingStatus.OPEN
    estate.scan(DISKS, volume)
    assert kinds(estate.check()) == ["resolved"]


def test_an_open_finding_whose_input_became_unknown_stays_open(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.scan(DISKS, volume)
    assert kinds(estate.check()) == ["new"]
    # The disk's own scope completes, but its snapshots can no longer be listed: the backup
    # state is unknown, so the finding neither resolves nor repeats as news.
    estate.clock.tick(24 * 60)  # past the staleness window of the last snapshot listing
    estate.scan(DISKS, volume)
    estate.scan(SNAPSHOTS, fail=True)
    assert kinds(estate.check()) == []
    assert estate.status("backup.missing", volume.uid) is FindingStatus.OPEN
    estate.scan(SNAPSHOTS, snapshot_of(volume))
    assert kinds(estate.check()) == ["resolved"]


def test_unknown_snapshots_open_nothing(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.clock.tick(24 * 60)
    estate.scan(SNAPSHOTS, fail=True)
    estate.scan(DISKS, volume)
    assert kinds(estate.check()) == []
    assert estate.status("backup.missing", volume.uid) is None


def test_check_takes_the_known_window_from_collector_failings_staleness(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.clock.tick(24 * 60)  # a day after the last snapshot listing that completed
    estate.scan(SNAPSHOTS, fail=True)
    estate.scan(DISKS, volume)
    config = parse_config({"rules": {"params": {"collector.failing": {"staleness": "2d"}}}})
    assert kinds(estate.check(config=config)) == ["new"]


def test_a_frozen_resolved_finding_keeps_when_it_resolved(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.scan(DISKS, volume)
    estate.check()
    estate.scan(SNAPSHOTS, snapshot_of(volume))
    estate.check()
    resolved = _stored(db, "backup.missing", volume.uid)
    assert resolved.status is FindingStatus.RESOLVED
    # The disk's scope fails, then the snapshot disappears: the rule fires again, but on
    # partial knowledge the finding stays resolved, as of when it resolved.
    estate.scan(DISKS, fail=True)
    estate.scan(SNAPSHOTS)
    assert kinds(estate.check()) == []
    again = _stored(db, "backup.missing", volume.uid)
    assert again.status is FindingStatus.RESOLVED
    assert again.resolved_at == resolved.resolved_at
    assert again.last_seen == resolved.last_seen


def _stored(db: Database, rule: str, resource_uid: str) -> StoredFinding:
    wanted = fingerprint(rule, resource_uid)
    (found,) = [
        f for f in FindingStore(db).findings(FindingQuery(statuses=())) if f.fingerprint == wanted
    ]
    return found


def test_silence_then_expiry(db: Database) -> None:
    estate, volume = Estate(db), disk(team="storage")
    estate.scan(DISKS, volume)
    assert kinds(estate.check()) == ["new"]
    silence = SilenceStore(db).add_silence(
        rule="backup.missing",
        labels={"team": "storage"},
        reason="migrating to AWS Backup",
        author="ann",
        expires_at=estate.clock.now + timedelta(hours=1),
        now=estate.clock.now,
    )
    transitions = estate.check()
    assert kinds(transitions) == ["silenced"]
    assert transitions[0].finding.silence_id == silence.id
    assert kinds(estate.check()) == []  # still silenced: nothing to tell anyone
    estate.clock.tick(90)
    assert kinds(estate.check()) == ["unsilenced"]
    assert estate.status("backup.missing", volume.uid) is FindingStatus.OPEN
    assert [s.id for s in SilenceStore(db).silences()] == [silence.id]  # kept for auditors
    assert SilenceStore(db).silences(now=estate.clock.now) == []


def test_silence_matching_another_label_does_not_apply(db: Database) -> None:
    estate, volume = Estate(db), disk(team="storage")
    estate.scan(DISKS, volume)
    SilenceStore(db).add_silence(
        rule="backup.missing",
        labels={"team": "web"},
        reason="x",
        author="ann",
        expires_at=T0 + timedelta(days=1),
        now=T0,
    )
    assert kinds(estate.check()) == ["new"]


def test_transition_hook_runs_inside_the_findings_transaction(db: Database) -> None:
    estate, volume = Estate(db), disk()
    estate.scan(DISKS, volume)
    seen: list[TransitionKind] = []

    def failing_outbox(conn: Connection, transitions: Sequence[Transition]) -> None:
        seen.extend(t.kind for t in transitions)
        count = conn.execute(sa.select(sa.func.count()).select_from(findings_table)).scalar()
        assert count and count >= 1  # the writes are visible to the hook
        raise RuntimeError("outbox full")

    with pytest.raises(RuntimeError):
        estate.check(on_transitions=failing_outbox)
    assert TransitionKind.NEW in seen
    assert estate.status("backup.missing", volume.uid) is None  # rolled back together
    assert kinds(estate.check()) == ["new"]


def test_findings_query_filters_and_orders_by_severity(db: Database) -> None:
    estate = Estate(db)
    estate.scan(DISKS, disk("vol-1"))
    estate.check()
    store = FindingStore(db)
    (found,) = store.findings(FindingQuery(rules=("backup.missing",)))
    assert found.severity is Severity.HIGH
    assert found.to_dict()["first_seen"].endswith("Z")
    assert list(store.findings(FindingQuery(severities=("low",)))) == []


# -- property: a finding on a failed scope never changes status -------------------------

REGIONS = ("us-east-1", "eu-west-1")
step = st.fixed_dictionaries(
    {region: st.sampled_from(["fail", "attached", "detached", "gone"]) for region in REGIONS}
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=6))
def test_failed_scope_never_changes_a_findings_status(steps: list[dict[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'vigil.db'}")
        try:
            _replay(Estate(db), steps)
        finally:
            db.dispose()


def _replay(estate: Estate, steps: list[dict[str, str]]) -> None:
    scopes = {region: scope(type_="disk", region=region) for region in REGIONS}
    volumes = {region: disk(f"vol-{region}", within=scopes[region]) for region in REGIONS}
    for actions in steps:
        before = {r: estate.status("backup.missing", volumes[r].uid) for r in REGIONS}
        for region, action in actions.items():
            volume = volumes[region]
            if action == "fail":
                estate.scan(scopes[region], volume, fail=True)
            elif action == "gone":
                estate.scan(scopes[region])
            else:
                attached = ["i-1"] if action == "attached" else []
                changed = resource(
                    volume.native_id, within=scopes[region], attached_to=attached, size_gb=10
                )
                estate.scan(scopes[region], changed)
        estate.check()
        for region, action in actions.items():
            if action == "fail":
                assert estate.status("backup.missing", volumes[region].uid) == before[region]


def test_worst_open_is_the_most_severe_open_finding_silenced_and_resolved_left_out(
    db: Database,
) -> None:
    from storage.findings import worst_open
    from tests.dashboard.estate import seed_linked
    from vigil.core.model import utcnow

    linked = seed_linked(db)
    SilenceStore(db).add_silence(
        rule="network.open_port",
        reason="bastion, reviewed",
        author="sre@example.com",
        expires_at=utcnow() + timedelta(days=1),
        now=utcnow(),
    )
    run_check(db)

    worst = worst_open(db, [linked.group, linked.disk, linked.web, "gone"])

    # sg-web's critical network.open_port is silenced: no colour; vol-web's backup.missing is
    # open and escalated (reachable from shop.example.com); i-web has nothing open.
    assert worst == {linked.disk: Severity.CRITICAL}
