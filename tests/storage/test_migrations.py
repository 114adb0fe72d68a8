"""Alembic's history stays one line (several engineers add migrations in parallel), and an
upgrade keeps what an existing database holds, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import MIGRATIONS, Database, alembic_config, newest_revision
from storage.findings import FindingQuery, FindingStore
from storage.reconcile import Reconciler
from storage.tables import resources
from storage.topology import topology
from tests.factories import scope
from tests.factories.storage import scan
from tests.storage.test_links import linked
from vigil.core.model import FindingStatus, Resolution, dns_ref, utcnow


def test_history_has_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, (
        f"migrations in {MIGRATIONS} have {len(heads)} heads {sorted(heads)}: "
        "rebase the newer one onto the other (set its down_revision), or `alembic merge`"
    )


def test_each_revision_is_its_files_number_and_the_highest_is_the_head() -> None:
    """Opening the database compares its revision with `newest_revision()` (file names only,
    no Alembic import); a migration breaking the convention would re-run migrations, or
    skip them, on every start."""
    scripts = ScriptDirectory.from_config(alembic_config())
    for script in scripts.walk_revisions():
        assert script.path is not None
        assert Path(script.path).name.startswith(f"{script.revision}_"), script.path
    assert scripts.get_current_head() == newest_revision()


def test_history_has_exactly_one_base() -> None:
    bases = ScriptDirectory.from_config(alembic_config()).get_bases()
    assert bases == ["0001"], f"a migration starts a second history: {bases}"


# -- upgrading a database that already holds findings -------------------------------------------

_FINDINGS_AT_0004 = [
    # fingerprint, status, resolved_at, silence_id
    ("fp-open", "open", None, None),
    ("fp-resolved", "resolved", "2026-11-02 09:30:00", None),
    ("fp-silenced", "silenced", None, "s-1"),
]


def _insert_finding_at_0004(
    conn: sa.Connection, fp: str, status: str, resolved: str | None, silence: str | None
) -> None:
    # Plain SQL with literals: the schema of 0004, not today's models.
    resolved_sql = f"'{resolved}'" if resolved else "NULL"
    silence_sql = f"'{silence}'" if silence else "NULL"
    conn.execute(
        sa.text(
            "INSERT INTO findings (fingerprint, rule, severity, status, title, detail, "
            "resource_uid, native_id, type, source, account, region, labels, evidence, "
            "first_seen, last_seen, resolved_at, reopened_count, silence_id) VALUES "
            f"('{fp}', 'backup.missing', 'high', '{status}', 'disk vol-1 has no backup', "
            f"'No snapshot.', 'uid-{fp}', 'vol-1', 'disk', 'aws-prod', '111111111111', "
            "'us-east-1', '{\"owner\": \"team-a\"}', '{\"snapshots\": 0}', "
            f"'2026-11-01 08:00:00', '2026-11-02 09:00:00', {resolved_sql}, 2, {silence_sql})"
        )
    )


def _rows(db: Database) -> dict[str, dict[str, object]]:
    with db.connect() as conn:
        result = conn.execute(sa.text("SELECT * FROM findings ORDER BY fingerprint"))
        return {row["fingerprint"]: dict(row) for row in result.mappings()}


def test_upgrading_from_0004_keeps_every_finding_and_says_old_resolutions_were_fixes(
    db_url: str,
) -> None:
    old = Database(db_url, migrate=False)
    config = alembic_config()
    with old.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        for row in _FINDINGS_AT_0004:
            _insert_finding_at_0004(conn, *row)
    before = _rows(old)
    old.dispose()

    upgraded = Database(db_url)  # what any command does on open: migrate to head
    try:
        after = _rows(upgraded)
        assert set(after) == set(before) == {fp for fp, *_ in _FINDINGS_AT_0004}
        for fp, row in before.items():
            assert {k: after[fp][k] for k in row} == row  # nothing lost or rewritten
        assert {fp: row["resolution"] for fp, row in after.items()} == {
            "fp-open": None,
            "fp-resolved": "fixed",  # resolved before resolutions existed: by a fix
            "fp-silenced": None,
        }
        assert {row["params_hash"] for row in after.values()} == {None}
        stored = {
            f.fingerprint: f for f in FindingStore(upgraded).findings(FindingQuery(statuses=()))
        }
        assert stored["fp-resolved"].resolution is Resolution.FIXED
        assert (
            stored["fp-open"].status is FindingStatus.OPEN and stored["fp-open"].resolution is None
        )
        assert stored["fp-silenced"].silence_id == "s-1"
        assert stored["fp-open"].labels == {"owner": "team-a"}
        assert stored["fp-open"].reopened_count == 2
        with upgraded.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
        assert revision == ScriptDirectory.from_config(config).get_current_head()
    finally:
        upgraded.dispose()


def test_a_database_at_0008_from_before_0006_was_chained_in_gets_the_volatile_table(
    db_url: str,
) -> None:
    old = Database(db_url, migrate=False)
    config = alembic_config()
    with old.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008")
        conn.execute(sa.text("DROP TABLE resource_volatile"))  # as main's 0005 -> 0007 left it
    old.dispose()

    upgraded = Database(db_url)
    try:
        with upgraded.connect() as conn:
            assert sa.inspect(conn).has_table("resource_volatile")
            assert list(conn.execute(sa.text("SELECT attributes FROM vigil_resources"))) == []
    finally:
        upgraded.dispose()


def test_upgrading_from_0013_lets_a_name_resolve_to_a_load_balancer_stored_before(
    db_url: str,
) -> None:
    balancers, records = scope(type_="load_balancer"), scope(type_="dns_record", region="global")
    old = Database(db_url, migrate=False)
    config = alembic_config()
    now = utcnow()
    with old.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0013")
        conn.execute(
            resources.insert(),
            [
                {
                    "uid": f"{balancers.key}/{native_id}",
                    "source": balancers.source,
                    "provider": balancers.provider,
                    "account": balancers.account,
                    "region": balancers.region,
                    "type": balancers.type,
                    "native_id": native_id,
                    "tags": {},
                    "attributes": {"dns_name": f"{native_id}.elb.amazonaws.com."},
                    "scope_key": balancers.key,
                    "content_hash": native_id,
                    "state": state,
                    "first_seen": now,
                    "last_changed": now,
                    "last_seen": now,
                }
                for native_id, state in (("web", "present"), ("old", "deleted"))
            ],
        )
    old.dispose()

    upgraded = Database(db_url)
    try:
        reconciler = Reconciler(upgraded)
        shop = linked("shop", records, ("routes_to", dns_ref("Web.elb.amazonaws.com")))
        gone = linked("gone", records, ("routes_to", dns_ref("old.elb.amazonaws.com")))
        scan(reconciler, records, [[shop, gone]])

        graph = topology(upgraded, [shop.uid, gone.uid], depth=1, direction="down")
        assert {(e.from_uid, e.to, e.resolved) for e in graph.edges} == {
            (shop.uid, f"{balancers.key}/web", True),
            (gone.uid, "dns:old.elb.amazonaws.com", False),
        }
    finally:
        upgraded.dispose()


def test_runs_from_before_0016_show_no_throttling_and_0016_downgrades(db_url: str) -> None:
    """A BI tool reading vigil_scope_runs sees `throttled` (0 for older runs); the downgrade,
    which rebuilds scope_runs on SQLite, takes the view with it and puts it back."""
    old = Database(db_url, migrate=False)
    config = alembic_config()
    with old.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0015")
        conn.execute(
            sa.text(
                "INSERT INTO scope_runs (scope_key, source, provider, account, region, type, "
                "status, started_at, pages, seen, created, changed, deleted) VALUES "
                "('s/a/r/server', 's', 'aws', 'a', 'r', 'server', 'complete', :at, 1, 2, 2, 0, 0)"
            ),
            {"at": utcnow()},
        )
    old.dispose()

    upgraded = Database(db_url)
    with upgraded.connect() as conn:
        viewed = conn.execute(sa.text("SELECT seen, throttled FROM vigil_scope_runs")).all()
    assert [tuple(row) for row in viewed] == [(2, 0)]
    with upgraded.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0015")
    with upgraded.connect() as conn:
        columns = conn.execute(sa.text("SELECT * FROM vigil_scope_runs")).keys()
    upgraded.dispose()
    assert "throttled" not in columns and "deleted" in columns
