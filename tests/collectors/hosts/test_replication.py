"""Declared databases and caches read for real: a PostgreSQL primary with a streaming replica
and a Redis primary with a replica on loopback, reached through the real sshd.

PostgreSQL is read as the `postgres` OS user (`sudo -n -u postgres psql`, peer authentication);
Redis with a password forwarded from `${VIGIL_TEST_REDIS_PASSWORD}` in the command's
environment. A stopped replica opens `database.replication_broken` on the next cycle, and the
primary that requires it opens `database.no_replica`; started again, both resolve.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collectors.hosts import HostsCollector
from collectors.hosts.config import HostsSourceConfig
from collectors.hosts.ssh import commands, script
from storage import inventory
from storage.db import Database
from storage.findings import FindingQuery, FindingStore
from tests.collectors.hosts.conftest import hosts_config
from tests.fixtures.replication import REDIS_PASSWORD, PgPair, RedisPair
from tests.fixtures.sshd import SshServer
from vigil.app.config import parse_config
from vigil.app.cycle import CycleOutcome, CycleRunner
from vigil.core.errors import CollectError
from vigil.core.model import Resource, canonical_json

pytestmark = pytest.mark.slow
PASSWORD_VAR = "VIGIL_TEST_REDIS_PASSWORD"


def targets(
    sshd: SshServer, pg: PgPair, redis: RedisPair, backups: Path | None = None
) -> list[dict[str, Any]]:
    def host(name: str, database: dict[str, Any]) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": sshd.port, "name": name, "databases": [database]}

    primary: dict[str, Any] = {
        "engine": "postgresql",
        "name": "main",
        "host": str(pg.primary.dir),
        "port": pg.primary.port,
        "run_as": "postgres",
        "replication": "required",
    }
    if backups is not None:
        primary["backup"] = {"path": f"{backups}/*.dump"}
    return [
        host("pg-1", primary),
        host(
            "pg-2",
            {
                "engine": "postgresql",
                "name": "main",
                "host": str(pg.replica.dir),
                "port": pg.replica.port,
                "run_as": "postgres",
                "role": "replica",
            },
        ),
        host(
            "cache-1",
            {"engine": "redis", "port": redis.primary.port, "password": f"${{{PASSWORD_VAR}}}"},
        ),
        host(
            "cache-2",
            {
                "engine": "redis",
                "port": redis.replica.port,
                "password": f"${{{PASSWORD_VAR}}}",
                "role": "replica",
            },
        ),
    ]


def collect(config: HostsSourceConfig, types: set[str]) -> dict[str, Resource]:
    collector = HostsCollector(config)
    found: dict[str, Resource] = {}
    for scope in collector.plan(types):
        for page in collector.collect(scope):
            found.update((r.native_id, r) for r in page)
    return found


def test_primary_and_replica_are_read_over_ssh(
    sshd: SshServer,
    pg_pair: PgPair,
    redis_pair: RedisPair,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, REDIS_PASSWORD)
    for age, name in ((3, "main-old.dump"), (1, "main-new.dump")):
        path = tmp_path / name
        path.write_bytes(b"x" * age)
        stamp = time.time() - age * 86400
        os.utime(path, (stamp, stamp))
    config = hosts_config(sshd, *targets(sshd, pg_pair, redis_pair, tmp_path))
    found = collect(config, {"database", "cache", "snapshot"})

    primary = found["pg-1:main"].attributes
    assert primary["role"] == "primary" and primary["running"] is True
    assert primary["engine"] == "postgresql" and primary["version"].startswith("1")
    assert primary["replica_count"] == 1 and primary["replicas"] == ["walreceiver@127.0.0.1"]
    (detail,) = primary["replica_details"]
    assert detail["state"] == "streaming" and detail["lag_bytes"] == 0
    assert primary["streaming"] is None and primary["replication"] == "required"
    assert primary["last_backup_at"] is not None

    replica = found["pg-2:main"]
    assert replica.attributes["role"] == "replica"
    assert replica.attributes["streaming"] is True
    assert replica.attributes["replication_state"] == "streaming"
    assert replica.attributes["lag_seconds"] == 0 and replica.attributes["lag_bytes"] == 0
    assert replica.attributes["upstream"] == f"127.0.0.1:{pg_pair.primary.port}"
    assert replica.attributes["replica_of"] == "pg-1:main"
    assert [link.to_uid for link in replica.links] == [found["pg-1:main"].uid]

    cache_primary, cache_replica = (
        found["cache-1:redis:" + str(redis_pair.primary.port)],
        found["cache-2:redis:" + str(redis_pair.replica.port)],
    )
    assert cache_primary.type == "cache" and cache_primary.attributes["role"] == "primary"
    assert cache_primary.attributes["version"].startswith(("6.", "7.", "8."))
    assert cache_primary.attributes["replicas"] == [f"127.0.0.1:{redis_pair.replica.port}"]
    assert cache_replica.attributes["role"] == "replica"
    assert cache_replica.attributes["streaming"] is True
    assert cache_replica.attributes["replication_state"] == "up"
    assert cache_replica.attributes["replica_of"] == cache_primary.native_id

    (backup,) = [r for r in found.values() if r.type == "snapshot"]
    assert backup.attributes["source_uid"] == found["pg-1:main"].uid
    assert backup.attributes["location"] == str(tmp_path / "main-new.dump")
    assert backup.native_id == "pg-1:main@backup" and backup.attributes["size_bytes"] == 1
    assert REDIS_PASSWORD not in canonical_json([r.to_dict() for r in found.values()])


def test_the_password_travels_only_in_the_scripts_environment(
    sshd: SshServer, pg_pair: PgPair, redis_pair: RedisPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, REDIS_PASSWORD)
    config = hosts_config(sshd, *targets(sshd, pg_pair, redis_pair))
    target = config.targets[2]
    cmds = commands(config, target)
    (client,) = [c for c in cmds if c.group.startswith("database:")]
    assert REDIS_PASSWORD not in client.text and REDIS_PASSWORD not in repr(client)
    assert REDIS_PASSWORD not in (client.label or "")
    text = script(cmds, config.settings(), "n0nce")
    assert f"REDISCLI_AUTH={REDIS_PASSWORD} redis-cli" in text  # stdin of `sh -s`, not argv
    assert "-a " not in text and "--pass" not in text


def test_a_wrong_password_fails_the_cache_scope_not_the_host(
    sshd: SshServer, pg_pair: PgPair, redis_pair: RedisPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, "not-the-password")
    config = hosts_config(sshd, *targets(sshd, pg_pair, redis_pair)[2:3])
    collector = HostsCollector(config)
    outcomes: dict[str, str] = {}
    for scope in collector.plan():
        try:
            list(collector.collect(scope))
            outcomes[scope.type] = "complete"
        except CollectError as exc:
            outcomes[scope.type] = str(exc)
    assert outcomes["server"] == outcomes["disk"] == "complete"
    assert "could not read its database:redis:" in outcomes["cache"]
    assert "WRONGPASS" in outcomes["cache"] or "NOAUTH" in outcomes["cache"]
    assert "not-the-password" not in outcomes["cache"]


def open_findings(db: Database, rule: str) -> set[str]:
    query = FindingQuery(rules=(rule,))
    return {f.native_id for f in FindingStore(db).findings(query)}


def resolved_findings(db: Database, rule: str) -> set[str]:
    query = FindingQuery(statuses=("resolved",), rules=(rule,))
    return {f.native_id for f in FindingStore(db).findings(query)}


def test_a_stopped_replica_opens_replication_broken_and_starting_it_resolves(
    sshd: SshServer,
    pg_pair: PgPair,
    redis_pair: RedisPair,
    sqlite_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_VAR, REDIS_PASSWORD)
    ssh = {"user": sshd.user, "key_file": sshd.client_key, "known_hosts": sshd.known_hosts}
    source = {"name": "colo", "provider": "hosts", "ssh": ssh}
    source["targets"] = targets(sshd, pg_pair, redis_pair)
    config = parse_config({"sources": [source]})
    runner = CycleRunner(sqlite_db, config)
    redis_replica = f"cache-2:redis:{redis_pair.replica.port}"

    first = runner.run_source("colo")
    assert first.outcome == CycleOutcome.OK, first
    assert open_findings(sqlite_db, "database.replication_broken") == set()
    assert open_findings(sqlite_db, "database.no_replica") == set()

    pg_pair.replica.stop()
    redis_pair.replica.stop()
    try:
        down = runner.run_source("colo")
        assert down.outcome == CycleOutcome.OK, down
        assert open_findings(sqlite_db, "database.replication_broken") == {
            "pg-2:main",
            redis_replica,
        }
        assert open_findings(sqlite_db, "database.no_replica") == {"pg-1:main"}
        stored = {r.native_id: r for r in inventory.inventory(sqlite_db)}
        assert stored["pg-2:main"].attributes["running"] is False
        assert "No such file or directory" in stored["pg-2:main"].attributes["error"]
    finally:
        pg_pair.replica.start()
        redis_pair.replica.start()
        pg_pair.wait_streaming()
        redis_pair.wait_streaming()

    _until_primaries_see_replicas(pg_pair, redis_pair)
    again = runner.run_source("colo")
    assert again.outcome == CycleOutcome.OK, again
    stored = {r.native_id: r for r in inventory.inventory(sqlite_db)}
    assert open_findings(sqlite_db, "database.replication_broken") == set(), stored[
        "pg-2:main"
    ].attributes
    assert open_findings(sqlite_db, "database.no_replica") == set()
    assert resolved_findings(sqlite_db, "database.replication_broken") == {
        "pg-2:main",
        redis_replica,
    }
    assert "pg-1:main" in resolved_findings(sqlite_db, "database.no_replica")


def _until_primaries_see_replicas(pg: PgPair, redis: RedisPair, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = pg.primary.sql("SELECT count(*) FROM pg_stat_replication")
        if rows == "1" and "connected_slaves:1" in redis.primary.info():
            return
        time.sleep(0.2)
    raise TimeoutError(json.dumps({"pg": rows, "redis": redis.primary.info()}))


def test_a_replica_whose_replay_is_paused_lags_past_max_lag_and_then_catches_up(
    sshd: SshServer, pg_pair: PgPair, redis_pair: RedisPair, sqlite_db: Database
) -> None:
    ssh = {"user": sshd.user, "key_file": sshd.client_key, "known_hosts": sshd.known_hosts}
    source = {"name": "colo", "provider": "hosts", "ssh": ssh}
    source["targets"] = targets(sshd, pg_pair, redis_pair)[:2]
    rules = {"params": {"database.replication_broken": {"max_lag": "1s"}}}
    runner = CycleRunner(sqlite_db, parse_config({"sources": [source], "rules": rules}))
    pg_pair.primary.sql("CREATE TABLE IF NOT EXISTS lag_probe (x int)")
    pg_pair.wait_streaming()  # that commit is replayed: the replica has a replay timestamp

    pg_pair.replica.sql("SELECT pg_wal_replay_pause()")
    try:
        pg_pair.primary.sql("INSERT INTO lag_probe VALUES (1)")
        _until(lambda: pg_pair.replica.sql(RECEIVED_NOT_REPLAYED) == "t")
        time.sleep(1.5)  # the last replayed commit is now more than max_lag old
        behind = runner.run_source("colo")
        assert behind.outcome == CycleOutcome.OK, behind
        query = FindingQuery(rules=("database.replication_broken",))
        (found,) = FindingStore(sqlite_db).findings(query)
        assert found.native_id == "pg-2:main" and "behind its primary" in found.title
        assert found.evidence["lag_seconds"] > 1 and found.evidence["lag_bytes"] > 0
        assert found.evidence["max_lag"] == 1
    finally:
        pg_pair.replica.sql("SELECT pg_wal_replay_resume()")
    pg_pair.wait_streaming()

    caught_up = runner.run_source("colo")
    assert caught_up.outcome == CycleOutcome.OK, caught_up
    assert open_findings(sqlite_db, "database.replication_broken") == set()
    assert resolved_findings(sqlite_db, "database.replication_broken") == {"pg-2:main"}


RECEIVED_NOT_REPLAYED = "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()"


def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the condition did not hold within 20s")
        time.sleep(0.1)
