"""Declared databases and caches: config checks, the client commands, the parsers on recorded
output (surprises included: empty output, NULL columns, stray warning lines), and the
resources built from them. The servers themselves are read in test_replication.py.

PostgreSQL and Redis samples were recorded from the servers test_replication.py starts
(PostgreSQL 15, Redis 7); MySQL/MariaDB has no server in the suite, so its samples follow the
`SHOW REPLICA STATUS\\G` layout of the MySQL 8 and MariaDB manuals.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from collectors.hosts import HostsCollector, databases
from collectors.hosts.base import HostFacts
from collectors.hosts.config import HostsSourceConfig, Target
from collectors.hosts.dbconfig import DatabaseTarget
from collectors.hosts.facts import FactError, Output
from collectors.hosts.ssh import commands, script
from vigil.app.config import ConfigError, load_config

PG_PRIMARY = (
    '{"version" : "15.18 (Debian 15.18-0+deb12u1)", "in_recovery" : false, "replicas" : '
    '[{"name" : "walreceiver", "address" : "127.0.0.1", "port" : 34852, "state" : "streaming", '
    '"sync_state" : "async", "lag_seconds" : 0.104124, "lag_bytes" : 0}], "receiver" : null, '
    '"lag_seconds" : null, "lag_bytes" : null}\n'
)
PG_REPLICA = (
    '{"version" : "15.18 (Debian 15.18-0+deb12u1)", "in_recovery" : true, "replicas" : [], '
    '"receiver" : {"status" : "streaming", "sender_host" : "10.0.0.5", "sender_port" : 5432}, '
    '"lag_seconds" : 42.5, "lag_bytes" : 8192}\n'
)
PG_DOWN = (
    'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
    "No such file or directory\n\tIs the server running locally and accepting connections on "
    "that socket?\n"
)
REDIS_PRIMARY = """# Replication
role:master
connected_slaves:2
slave0:ip=10.0.0.7,port=6379,state=online,offset=1000,lag=0
slave1:ip=10.0.0.8,port=6379,state=wait_bgsave,offset=400,lag=3
master_failover_state:no-failover
master_repl_offset:1000
"""
REDIS_REPLICA_UP = """# Server
redis_version:7.0.15
redis_mode:standalone

# Replication
role:slave
master_host:10.0.0.6
master_port:6379
master_link_status:up
master_last_io_seconds_ago:1
master_sync_in_progress:0
slave_repl_offset:1000
connected_slaves:0
"""
REDIS_REPLICA_DOWN = """# Replication
role:slave
master_host:10.0.0.6
master_port:6379
master_link_status:down
master_last_io_seconds_ago:-1
master_sync_in_progress:0
master_link_down_since_seconds:812
connected_slaves:0
"""
MYSQL_HEAD = """*************************** 1. row ***************************
 vigil_version: 8.0.36
vigil_replicas: {replicas}
"""
MYSQL_REPLICA = """*************************** 2. row ***************************
             Replica_IO_State: Waiting for source to send event
                  Source_Host: 10.0.0.5
                  Source_User: repl
                  Source_Port: 3306
           Replica_IO_Running: {io}
          Replica_SQL_Running: Yes
              Replicate_Do_DB:
                Last_IO_Error: {error}
        Seconds_Behind_Source: {behind}
"""
MARIADB_REPLICA = """*************************** 2. row ***************************
                Slave_IO_State: Waiting for master to send event
                   Master_Host: db-1.internal
                   Master_Port: 3306
              Slave_IO_Running: Yes
             Slave_SQL_Running: Yes
         Seconds_Behind_Master: 7
"""


def out(text: str, status: int = 0) -> Output:
    return Output("client ...", status, text)


# -- PostgreSQL --------------------------------------------------------------------------------


def test_a_postgres_primary_lists_its_replicas_with_state_and_lag() -> None:
    facts = databases.parse_client("postgresql", out(PG_PRIMARY))
    assert facts.running and facts.role == "primary" and facts.streaming is None
    assert facts.version == "15.18 (Debian 15.18-0+deb12u1)"
    (replica,) = facts.replicas
    assert replica["id"] == "walreceiver@127.0.0.1" and replica["state"] == "streaming"
    assert replica["lag_seconds"] == pytest.approx(0.104124) and replica["lag_bytes"] == 0


def test_a_postgres_replica_reports_its_link_upstream_and_lag() -> None:
    facts = databases.parse_client("postgresql", out(PG_REPLICA))
    assert facts.role == "replica" and facts.streaming is True and facts.state == "streaming"
    assert (facts.upstream_host, facts.upstream_port) == ("10.0.0.5", 5432)
    assert facts.lag_seconds == 42.5 and facts.lag_bytes == 8192


def test_a_postgres_replica_without_a_wal_receiver_is_not_streaming() -> None:
    text = PG_REPLICA.replace(
        '{"status" : "streaming", "sender_host" : "10.0.0.5", "sender_port" : 5432}', "null"
    )
    facts = databases.parse_client("postgresql", out(text))
    assert facts.role == "replica" and facts.streaming is False and facts.state is None


def test_null_columns_of_an_unprivileged_user_stay_unknown() -> None:
    """Without pg_monitor, pg_stat_replication shows rows with NULL state and lag."""
    text = (
        '{"version" : "16.2", "in_recovery" : false, "replicas" : [{"name" : null, "address" : '
        'null, "port" : null, "state" : null, "sync_state" : null, "lag_seconds" : null, '
        '"lag_bytes" : null}], "receiver" : null, "lag_seconds" : null, "lag_bytes" : null}'
    )
    (replica,) = databases.parse_client("postgresql", out(text)).replicas
    assert replica["state"] is None and replica["lag_seconds"] is None and replica["id"] == ""


def test_a_warning_line_before_the_result_is_ignored() -> None:
    text = 'could not change directory to "/home/vigil": Permission denied\n' + PG_PRIMARY
    assert databases.parse_client("postgresql", out(text)).role == "primary"


@pytest.mark.parametrize(
    ("text", "status", "message"),
    [
        ("", 0, "psql printed no result: no output"),
        ("sudo: a password is required\n", 1, "failed (exit 1): sudo: a password is required"),
        (
            'psql: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: '
            'FATAL:  Peer authentication failed for user "postgres"\n',
            2,
            "Peer authentication failed",
        ),
        ('{"in_recovery": "maybe"}', 0, "not the replication summary"),
        ("{not json", 0, "unreadable JSON"),
    ],
)
def test_unreadable_postgres_output_fails_the_fact(text: str, status: int, message: str) -> None:
    with pytest.raises(FactError, match=re.escape(message)):
        databases.parse_client("postgresql", out(text, status))


@pytest.mark.parametrize(
    "text",
    [
        PG_DOWN,
        'psql: error: connection to server at "127.0.0.1", port 5433 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?",
        "psql: error: connection to server on socket ... failed: FATAL:  the database system is "
        "starting up",
    ],
)
def test_a_server_that_accepts_no_connection_is_down(text: str) -> None:
    facts = databases.parse_client("postgresql", out(text, 2))
    assert facts.running is False and facts.role is None
    assert facts.error is not None and "connection to server" in facts.error


# -- Redis -------------------------------------------------------------------------------------


def test_a_redis_primary_lists_replicas_with_their_offsets_behind() -> None:
    facts = databases.parse_client("redis", out(REDIS_PRIMARY))
    assert facts.role == "primary"
    assert [(r["id"], r["state"], r["lag_bytes"]) for r in facts.replicas] == [
        ("10.0.0.7:6379", "online", 0),
        ("10.0.0.8:6379", "wait_bgsave", 600),
    ]


def test_a_redis_replica_up_streams_and_one_down_does_not() -> None:
    up = databases.parse_client("redis", out(REDIS_REPLICA_UP))
    assert (up.role, up.streaming, up.state, up.lag_seconds) == ("replica", True, "up", 1.0)
    assert up.version == "7.0.15"
    assert (up.upstream_host, up.upstream_port) == ("10.0.0.6", 6379)
    down = databases.parse_client("redis", out(REDIS_REPLICA_DOWN))
    assert (down.streaming, down.state, down.lag_seconds) == (False, "down", 812.0)


def test_a_redis_replica_still_syncing_is_not_streaming() -> None:
    text = REDIS_REPLICA_UP.replace("master_sync_in_progress:0", "master_sync_in_progress:1")
    facts = databases.parse_client("redis", out(text))
    assert facts.streaming is False and facts.state == "sync"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no role: no output"),
        ("NOAUTH Authentication required.\n", "no role: NOAUTH"),
        ("WRONGPASS invalid username-password pair or user is disabled.\n", "WRONGPASS"),
    ],
)
def test_redis_output_without_a_role_fails_the_fact(text: str, message: str) -> None:
    with pytest.raises(FactError, match=message):
        databases.parse_client("redis", out(text))


def test_redis_refusing_or_loading_is_down() -> None:
    refused = "Could not connect to Redis at 127.0.0.1:6380: Connection refused\n"
    assert databases.parse_client("redis", out(refused, 1)).running is False
    loading = "LOADING Redis is loading the dataset in memory\n"
    assert databases.parse_client("redis", out(loading, 0)).running is False


# -- MySQL / MariaDB ---------------------------------------------------------------------------


def test_a_mysql_primary_counts_its_binlog_dump_threads() -> None:
    facts = databases.parse_client("mysql", out(MYSQL_HEAD.format(replicas=2)))
    assert facts.role == "primary" and facts.version == "8.0.36"
    assert [r["id"] for r in facts.replicas] == ["replica-1", "replica-2"]


def test_a_mysql_replica_reports_threads_lag_and_source() -> None:
    text = MYSQL_HEAD.format(replicas=0) + MYSQL_REPLICA.format(io="Yes", error="", behind=5)
    facts = databases.parse_client("mysql", out(text))
    assert (facts.role, facts.streaming, facts.lag_seconds) == ("replica", True, 5.0)
    assert (facts.upstream_host, facts.upstream_port) == ("10.0.0.5", 3306)
    assert facts.state == "io=Yes sql=Yes" and facts.error is None


def test_a_mysql_replica_whose_io_thread_stopped_has_null_lag() -> None:
    error = "error connecting to master 'repl@10.0.0.5:3306' - retry-time: 60 retries: 3"
    text = MYSQL_HEAD.format(replicas=0) + MYSQL_REPLICA.format(
        io="Connecting", error=error, behind="NULL"
    )
    facts = databases.parse_client("mysql", out(text))
    assert facts.streaming is False and facts.lag_seconds is None and facts.error == error


def test_mariadb_and_old_mysql_names_are_read() -> None:
    facts = databases.parse_client("mysql", out(MYSQL_HEAD.format(replicas=0) + MARIADB_REPLICA))
    assert (facts.streaming, facts.lag_seconds, facts.upstream_host) == (True, 7.0, "db-1.internal")


def test_mysql_failures() -> None:
    with pytest.raises(FactError, match="mysql printed no result"):
        databases.parse_client("mysql", out(""))
    denied = (
        "ERROR 1227 (42000) at line 1: Access denied; you need the REPLICATION CLIENT privilege"
    )
    with pytest.raises(FactError, match="Access denied"):
        databases.parse_client("mysql", out(denied, 1))
    refused = "ERROR 2002 (HY000): Can't connect to local MySQL server through socket '/x' (2)"
    assert databases.parse_client("mysql", out(refused, 1)).running is False


# -- config and commands -----------------------------------------------------------------------


def source(*dbs: dict[str, Any], sudo: bool = False, **target: Any) -> HostsSourceConfig:
    host = {"host": "10.0.0.5", "name": "db-1", "databases": list(dbs), **target}
    ssh = {"key_file": "/k", "sudo": sudo}
    return HostsSourceConfig(name="colo", ssh=ssh, targets=[host])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("database", "message"),
    [
        ({"engine": "postgresql", "password": "hunter2"}, "environment reference"),
        (
            {"engine": "postgresql", "run_as": "postgres", "password": "${PGPW}"},
            "either run_as",
        ),
        ({"engine": "redis", "host": "127.0.0.1; rm -rf /"}, "must be one host name"),
        ({"engine": "postgresql", "run_as": "post gres"}, "is not a user name"),
        ({"engine": "oracle"}, "'postgresql', 'redis' or 'mysql'"),
        ({"engine": "postgresql", "backup": {"path": "dumps/*.gz"}}, "must be an absolute path"),
    ],
)
def test_config_errors_name_the_problem(
    database: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPW", "x")
    with pytest.raises(ValidationError, match=message):
        source(database)


def test_two_databases_of_one_host_need_distinct_names() -> None:
    with pytest.raises(ValidationError, match="two databases of this host are called"):
        source({"engine": "redis"}, {"engine": "redis"})
    assert len(source({"engine": "redis"}, {"engine": "redis", "port": 6380}).targets[0].databases)


def test_a_node_exporter_target_cannot_declare_databases() -> None:
    with pytest.raises(ValidationError, match="databases are read over SSH"):
        source({"engine": "redis"}, node_exporter={"port": 9100})


def test_client_commands_run_as_the_os_user_and_quote_everything() -> None:
    pg = DatabaseTarget(engine="postgresql", run_as="postgres", host="/var/run/postgresql")
    text = databases.client_command(pg)
    assert text.startswith("sudo -n -u postgres psql -X -q -A -t -v ON_ERROR_STOP=1 -h ")
    assert "-p 5432 -d postgres -c 'SELECT json_build_object(" in text
    assert databases.client_command(pg, shown=True).endswith("-c ...")
    redis = DatabaseTarget(engine="redis", host="/run/redis/redis.sock")
    assert databases.client_command(redis) == (
        "redis-cli --no-auth-warning -s /run/redis/redis.sock INFO"
    )
    mysql = DatabaseTarget(engine="mysql", user="monitor", host="10.0.0.5")
    assert databases.client_command(mysql).startswith(
        "mysql --batch --connect-timeout=10 -h 10.0.0.5 -P 3306 -u monitor -e 'SELECT VERSION()"
    )


def test_ssh_sudo_true_never_wraps_a_database_client_in_root_sudo() -> None:
    config = source({"engine": "postgresql", "run_as": "postgres"}, sudo=True)
    cmds = commands(config, config.targets[0])
    text = script(cmds, config.settings(), "n")
    assert "sudo -n sudo" not in text and "\nsudo -n -u postgres psql" in text
    assert "sudo -n df -PTB1" in text  # the host's own groups still use it


# -- resources ---------------------------------------------------------------------------------

PRIMARY_TARGET = Target(
    host="10.0.0.5",
    name="db-1",
    databases=[{"engine": "postgresql", "name": "main", "replication": "required"}],  # type: ignore[list-item]
)
REPLICA_TARGET = Target(
    host="10.0.0.6",
    name="db-2",
    databases=[{"engine": "postgresql", "name": "main", "role": "replica"}],  # type: ignore[list-item]
)
TARGETS = {t.label: t for t in (PRIMARY_TARGET, REPLICA_TARGET)}


def facts_of(target: Target, text: str, status: int = 0) -> HostFacts:
    facts = HostFacts(via="ssh")
    name = databases.group(target.databases[0])
    databases.read_databases(target, {name: Output("psql ...", status, text)}, facts)
    return facts


def test_a_replica_names_the_declared_primary_it_streams_from() -> None:
    (replica,) = databases.resources(
        "colo", REPLICA_TARGET, facts_of(REPLICA_TARGET, PG_REPLICA), TARGETS, cache=False
    )
    assert replica.native_id == "db-2:main" and replica.type == "database"
    assert replica.attributes["replica_of"] == "db-1:main"
    assert replica.attributes["upstream"] == "10.0.0.5:5432"
    assert [link.to_uid for link in replica.links] == ["hosts/db-1/global/database/db-1:main"]
    assert (
        databases.resources("colo", REPLICA_TARGET, HostFacts(via="ssh"), TARGETS, cache=True) == []
    )


def test_a_declared_replica_that_is_down_is_a_replica_not_streaming() -> None:
    (down,) = databases.resources(
        "colo", REPLICA_TARGET, facts_of(REPLICA_TARGET, PG_DOWN, 2), TARGETS, cache=False
    )
    attributes = down.attributes
    assert (attributes["running"], attributes["role"], attributes["streaming"]) == (
        False,
        "replica",
        False,
    )
    assert attributes["replica_count"] is None and attributes["replica_of"] is None
    (primary_down,) = databases.resources(
        "colo", PRIMARY_TARGET, facts_of(PRIMARY_TARGET, PG_DOWN, 2), TARGETS, cache=False
    )
    assert primary_down.attributes["role"] is None  # not declared: unknown while it is down


def test_a_failed_client_fails_only_its_own_scope_type() -> None:
    facts = facts_of(PRIMARY_TARGET, "sudo: a password is required", 1)
    assert (
        "database:main" in facts.failed and "password is required" in facts.failed["database:main"]
    )
    config = HostsSourceConfig(name="colo", ssh={"key_file": "/k"}, targets=[PRIMARY_TARGET])  # type: ignore[arg-type]
    collector = HostsCollector(config)
    planned = {s.type for s in collector.plan()}
    assert planned == {"server", "disk", "certificate", "snapshot", "database"}  # no cache
    assert databases.needed_groups(PRIMARY_TARGET, "database") == ["database:main"]
    assert databases.needed_groups(PRIMARY_TARGET, "server") == []


BAD_DATABASE = """sources:
  - name: colo
    provider: hosts
    ssh: {key_file: /k, known_hosts: /k}
    targets:
      - host: 10.0.0.5
        databases:
          - engine: redis
            password: hunter2-literal
"""


def test_a_bad_database_in_the_config_file_names_file_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(BAD_DATABASE)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = caught.value.message
    assert f"{path}:9:" in message and "databases[0].password" in message
    assert "environment reference such as ${MY_TOKEN}" in message
    assert "hunter2-literal" not in message


def test_a_bad_max_lag_fails_at_config_load(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text("rules:\n  params:\n    database.replication_broken: {max_lag: -5}\n")
    with pytest.raises(ConfigError, match="max_lag"):
        load_config(path)
