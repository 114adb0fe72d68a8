"""Databases and caches a hosts target declares: the client commands, their parsers, and the
`database` / `cache` resources. Commands and parsers are pure: tested on recorded output.

Each declared server gets one read-only client call in the host's facts script:

- PostgreSQL (11+): `psql` runs one `SELECT json_build_object(...)` over `pg_is_in_recovery()`,
  `pg_stat_replication` (a primary's replicas, their state and lag), `pg_stat_wal_receiver`
  and `pg_last_xact_replay_timestamp()` (a replica's link and lag).
- Redis: `redis-cli INFO` (`redis_version`; replication: role, `master_link_status`, the
  replicas' offsets).
- MySQL 8.0.22+ / MariaDB 10.5+: `mysql -e 'SHOW REPLICA STATUS\\G'` and the number of
  `Binlog Dump` threads (connected replicas; believed only when the user holds PROCESS).

Each client runs under `timeout` (CLIENT_TIMEOUT_SECONDS), so a hung server fails only its own
group. A replica count or link state the server hides from an unprivileged user is None.

A client refused at the server's socket or port means the server is down (`running: false`);
any other failure (sudo refused, authentication, a permission) fails the fact group, so the
scope fails and nothing is judged on a guess.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from collectors.hosts.base import DatabaseFacts, HostFacts
from collectors.hosts.config import Target
from collectors.hosts.dbconfig import DatabaseTarget
from collectors.hosts.facts import (
    FactError,
    Output,
    backup_listing_command,
    parse_backup_command,
    parse_backup_listing,
)
from vigil.core.model import GLOBAL_REGION, LinkKind, Resource, ResourceType, make_uid

DATABASE, CACHE, SNAPSHOT = (
    ResourceType.DATABASE.value,
    ResourceType.CACHE.value,
    ResourceType.SNAPSHOT.value,
)
GROUP_PREFIX = "database:"
BACKUP_PREFIX = "database-backup:"
PASSWORD_ENV = {"postgresql": "PGPASSWORD", "redis": "REDISCLI_AUTH", "mysql": "MYSQL_PWD"}
"""The environment variable each client reads its password from (never argv)."""

POSTGRES_QUERY = """SELECT json_build_object(
 'version', current_setting('server_version'),
 'in_recovery', pg_is_in_recovery(),
 'replicas', (SELECT coalesce(json_agg(json_build_object(
   'name', application_name, 'address', host(client_addr), 'port', client_port,
   'state', state, 'sync_state', sync_state,
   'lag_seconds', extract(epoch FROM replay_lag),
   'lag_bytes', CASE WHEN pg_is_in_recovery() THEN NULL
                ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END)), '[]')
   FROM pg_stat_replication),
 'receiver', (SELECT json_build_object('status', status, 'sender_host', sender_host,
   'sender_port', sender_port) FROM pg_stat_wal_receiver LIMIT 1),
 'lag_seconds', CASE WHEN NOT pg_is_in_recovery() THEN NULL
   WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
   ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END,
 'lag_bytes', CASE WHEN pg_is_in_recovery() THEN greatest(0,
   pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())) END)"""
"""One row, one JSON document: NULLs stay null, names with separators stay whole. A replica's
lag is 0 when it has replayed all it received (an idle primary sends nothing, and the replay
timestamp alone would age). After a restart the WAL receiver's position starts at the
beginning of a segment, behind what was already replayed from local WAL: that is caught up
too (`<=`), not unknown. `lag_bytes` is what it received and has not replayed yet."""

MYSQL_QUERY = (
    "SELECT VERSION() AS vigil_version, (SELECT COUNT(*) FROM information_schema.PROCESSLIST "
    "WHERE COMMAND LIKE 'Binlog Dump%') AS vigil_replicas, "
    "(SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'PROCESS' "
    "AND GRANTEE = CONCAT(QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', 1)), '@', "
    "QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)))) AS vigil_process"
    "\\G SHOW REPLICA STATUS\\G"
)
"""Without the PROCESS privilege PROCESSLIST shows only the user's own threads, so the count of
`Binlog Dump` threads would be 0 whatever is connected: `vigil_process` (the user's own global
PROCESS grant, `ALL PRIVILEGES` included; not one held through a role) says whether the count
can be believed."""
CLIENT_TIMEOUT_SECONDS = 5
"""Each client runs under `timeout`: a server that accepts and never answers fails only its
own fact group, well within `ssh.timeout` (default 15 s) that covers the whole script."""
STREAMING_STATES = {"postgresql": "streaming", "redis": "online"}
"""The replica state (pg_stat_replication.state, Redis `slaveN:state=`) of a replica that
streams now; others (`backup` of pg_basebackup, `startup`, `catchup`, `wait_bgsave`...) are
listed but not counted."""

_DOWN = (
    re.compile(r"connection to server .*failed: (No such file or directory|Connection refused)"),
    re.compile(r"could not connect to server: (No such file or directory|Connection refused)"),
    re.compile(r"the database system is (starting up|shutting down|not yet accepting)"),
    re.compile(r"Could not connect to Redis at .*: (Connection refused|No such file)"),
    re.compile(r"^LOADING ", re.MULTILINE),
    re.compile(r"ERROR 200[23] \(HY000\): Can't connect to"),
)
"""What a client prints when nothing accepts connections at the server's socket or port."""


def group(database: DatabaseTarget) -> str:
    return f"{GROUP_PREFIX}{database.label}"


def backup_group(database: DatabaseTarget) -> str:
    return f"{BACKUP_PREFIX}{database.label}"


def client_command(database: DatabaseTarget, *, shown: bool = False) -> str:
    """The client call (as the `run_as` user when set), without any password; `shown`: with
    the query left out, as errors name it."""
    port = str(database.listen_port)
    host = database.host
    if database.engine == "postgresql":
        args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        args += ["-h", host] if host else []
        args += ["-p", port, "-d", database.dbname]
        args += ["-U", database.user] if database.user else []
        args += ["-c", "..." if shown else POSTGRES_QUERY]
    elif database.engine == "redis":
        args = ["redis-cli", "--no-auth-warning"]
        if host and host.startswith("/"):
            args += ["-s", host]
        else:
            args += ["-h", host or "127.0.0.1", "-p", port]
        args += ["--user", database.user] if database.user else []
        args += ["INFO"]  # the default sections: server (version) and replication among them
    else:
        args = ["mysql", "--batch", "--connect-timeout=10"]
        if host and host.startswith("/"):
            args += ["-S", host]
        elif host:
            args += ["-h", host, "-P", port]
        args += ["-u", database.user] if database.user else []
        args += ["-e", "..." if shown else MYSQL_QUERY]
    text = " ".join(a if a == "..." else shlex.quote(a) for a in args)
    if database.run_as:
        text = f"sudo -n -u {shlex.quote(database.run_as)} {text}"
    return f"timeout -k 2 {CLIENT_TIMEOUT_SECONDS} {text}"


def client_env(database: DatabaseTarget) -> tuple[tuple[str, SecretStr], ...]:
    """The password, as the variable the client reads it from; resolved only in the script."""
    if database.password is None:
        return ()
    return ((PASSWORD_ENV[database.engine], database.password),)


def backup_command(database: DatabaseTarget) -> str | None:
    """The declared backup command, or `find` listing the files of the declared glob."""
    backup = database.backup
    return None if backup is None else backup_listing_command(backup.command, backup.path)


# -- parsers -----------------------------------------------------------------------------------


def is_down(text: str) -> str | None:
    """The client's error line when it says nothing accepts connections there; else None."""
    for pattern in _DOWN:
        match = pattern.search(text)
        if match:
            line = next((x for x in text.splitlines() if match.group(0) in x), match.group(0))
            return line.strip()[:300]
    return None


def parse_client(engine: str, output: Output) -> DatabaseFacts:
    """The facts of one server from its client's output (FactError when it cannot be read)."""
    down = is_down(output.text)
    if down is not None:
        return DatabaseFacts(running=False, error=down)
    text = output.ok()
    if engine == "postgresql":
        return parse_postgres(text)
    if engine == "redis":
        return parse_redis(text)
    return parse_mysql(text)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def parse_postgres(text: str) -> DatabaseFacts:
    """The JSON document of POSTGRES_QUERY (other lines, such as a `could not change directory`
    warning of sudo's user, are ignored)."""
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise FactError(f"psql printed no result: {text.strip()[:200] or 'no output'}")
    try:
        data = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise FactError(f"psql printed unreadable JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("in_recovery"), bool):
        raise FactError(f"psql printed {lines[-1][:200]!r}, not the replication summary")
    replicas = [
        {
            "id": "@".join(str(p) for p in (entry.get("name"), entry.get("address")) if p),
            "name": entry.get("name"),
            "address": entry.get("address"),
            "port": _integer(entry.get("port")),
            "state": entry.get("state"),
            "sync_state": entry.get("sync_state"),
            "lag_seconds": _number(entry.get("lag_seconds")),
            "lag_bytes": _integer(entry.get("lag_bytes")),
        }
        for entry in data.get("replicas") or []
        if isinstance(entry, dict)
    ]
    facts = DatabaseFacts(
        running=True,
        role="replica" if data["in_recovery"] else "primary",
        version=str(data["version"]) if data.get("version") is not None else None,
        replicas=replicas,
        replica_count=streaming_count("postgresql", replicas),
    )
    if facts.role == "replica":
        receiver = data.get("receiver")
        if isinstance(receiver, dict):
            # a WAL receiver row; a user without pg_monitor sees it with NULL columns: unknown
            facts.state = receiver.get("status")
            facts.streaming = None if facts.state is None else facts.state == "streaming"
        else:
            receiver = {}
            facts.streaming = False  # no WAL receiver process: not streaming
        facts.upstream_host = receiver.get("sender_host")
        facts.upstream_port = _integer(receiver.get("sender_port"))
        facts.lag_seconds = _number(data.get("lag_seconds"))
        facts.lag_bytes = _integer(data.get("lag_bytes"))
    return facts


def streaming_count(engine: str, replicas: list[dict[str, Any]]) -> int | None:
    """How many replicas stream now; None when one's state is not shown (PostgreSQL without
    pg_monitor shows the rows with NULL columns): it may be the one that streams."""
    if any(r.get("state") is None for r in replicas):
        return None
    return sum(1 for r in replicas if r.get("state") == STREAMING_STATES[engine])


def info_fields(text: str) -> dict[str, str]:
    """`key:value` lines of a Redis INFO reply (`# Section` headers and others skipped)."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key and not key.startswith("#") and " " not in key:
            found[key] = value.strip()
    return found


def parse_redis(text: str) -> DatabaseFacts:
    """`INFO`: `redis_version`, and from its replication section `role:master` with
    `slaveN:ip=..,port=..,state=..,offset=..,lag=..`, or `role:slave` with
    `master_link_status`, `master_last_io_seconds_ago`, offsets."""
    info = info_fields(text)
    role = info.get("role")
    if role not in ("master", "slave"):
        raise FactError(f"redis-cli printed no role: {text.strip()[:200] or 'no output'}")
    if role == "master":
        offset = _integer(info.get("master_repl_offset"))
        replicas = []
        for key in sorted(info):
            if not re.fullmatch(r"slave\d+", key):
                continue
            entry = dict(part.partition("=")[::2] for part in info[key].split(","))
            replica_offset = _integer(entry.get("offset"))
            replicas.append(
                {
                    "id": _address(entry.get("ip"), entry.get("port")),
                    "name": None,
                    "address": entry.get("ip"),
                    "port": _integer(entry.get("port")),
                    "state": entry.get("state"),
                    "lag_seconds": _number(entry.get("lag")),
                    "lag_bytes": (
                        max(0, offset - replica_offset)
                        if offset is not None and replica_offset is not None
                        else None
                    ),
                }
            )
        return DatabaseFacts(
            running=True,
            role="primary",
            version=info.get("redis_version"),
            replicas=replicas,
            replica_count=streaming_count("redis", replicas),
        )
    link = info.get("master_link_status")
    syncing = info.get("master_sync_in_progress") == "1"
    streaming = None if link is None else (link == "up" and not syncing)
    lag: float | None = None
    if streaming:
        last_io = _number(info.get("master_last_io_seconds_ago"))
        lag = last_io if last_io is not None and last_io >= 0 else None
    elif streaming is False:
        lag = _number(info.get("master_link_down_since_seconds"))
        lag = lag if lag is not None and lag >= 0 else None
    return DatabaseFacts(
        running=True,
        role="replica",
        version=info.get("redis_version"),
        replica_count=0,  # a Redis replica's own replicas are not read
        streaming=streaming,
        state="sync" if syncing else link,
        lag_seconds=lag,
        upstream_host=info.get("master_host"),
        upstream_port=_integer(info.get("master_port")),
    )


def vertical_rows(text: str) -> list[dict[str, str]]:
    """The rows of mysql's `\\G` output: `*** N. row ***` headers, then `Key: value` lines."""
    rows: list[dict[str, str]] = []
    for line in text.splitlines():
        if line.startswith("*****") and "row" in line:
            rows.append({})
            continue
        key, sep, value = line.strip().partition(": ")
        if not sep and line.strip().endswith(":"):
            key, sep, value = line.strip()[:-1], ":", ""
        if sep and rows and key and " " not in key:
            rows[-1][key] = value.strip()
    return rows


def _mysql_null(value: str | None) -> str | None:
    return None if value in (None, "", "NULL") else value


def parse_mysql(text: str) -> DatabaseFacts:
    """MYSQL_QUERY's output: the version and replica count row, then `SHOW REPLICA STATUS`'s
    row on a replica (none on a primary). Old names (`Slave_IO_Running`, `Master_Host`,
    `Seconds_Behind_Master`) are read too."""
    rows = vertical_rows(text)
    if not rows or "vigil_version" not in rows[0]:
        raise FactError(f"mysql printed no result: {text.strip()[:200] or 'no output'}")
    head, status = rows[0], rows[1:]
    version = head.get("vigil_version")
    # without PROCESS the user sees only its own threads: no replica count can be believed
    privileged = (_integer(head.get("vigil_process")) or 0) > 0
    count = _integer(head.get("vigil_replicas")) if privileged else None
    if not status:
        replicas = [{"id": f"replica-{n + 1}", "state": "connected"} for n in range(count or 0)]
        return DatabaseFacts(
            running=True, role="primary", version=version, replicas=replicas, replica_count=count
        )

    def field_(row: dict[str, str], *names: str) -> str | None:
        return next((v for n in names if (v := _mysql_null(row.get(n))) is not None), None)

    row = status[0]
    io = field_(row, "Replica_IO_Running", "Slave_IO_Running")
    sql = field_(row, "Replica_SQL_Running", "Slave_SQL_Running")
    streaming = None if io is None or sql is None else (io == "Yes" and sql == "Yes")
    return DatabaseFacts(
        running=True,
        role="replica",
        version=version,
        replica_count=count,
        streaming=streaming,
        state=f"io={io} sql={sql}",
        lag_seconds=_number(field_(row, "Seconds_Behind_Source", "Seconds_Behind_Master")),
        upstream_host=field_(row, "Source_Host", "Master_Host"),
        upstream_port=_integer(field_(row, "Source_Port", "Master_Port")),
        error=field_(row, "Last_IO_Error", "Last_SQL_Error"),
    )


def read_databases(target: Target, outputs: Mapping[str, Output], facts: HostFacts) -> None:
    """Parse each declared server's output into `facts.databases`; a failure is recorded in
    `facts.failed` under the server's own group, so only its scope type fails."""
    for database in target.databases:
        output = outputs.get(group(database))
        if output is None:
            _client_failed(facts, database, "the script stopped before its client finished")
            continue
        try:
            found = parse_client(database.engine, output)
        except (FactError, ValueError) as exc:
            _client_failed(facts, database, f"{database.label}: {exc}{_hint(database, output)}")
            continue
        facts.databases[database.label] = found
        if database.backup is None:
            continue
        backup = outputs.get(backup_group(database))
        try:
            if backup is None:
                raise FactError("the script stopped before the backup command finished")
            if database.backup.command is not None:
                found.backup = parse_backup_command(backup.ok())
            else:
                found.backup = parse_backup_listing(backup.ok())
        except (FactError, ValueError) as exc:
            facts.failed[backup_group(database)] = f"{database.label} backup: {exc}"


def _client_failed(facts: HostFacts, database: DatabaseTarget, reason: str) -> None:
    """The client's group failed, and with it the backup's: its snapshot is not built without
    the database, and a snapshot scope completed without it would delete the stored one."""
    facts.failed[group(database)] = reason
    if database.backup is not None:
        facts.failed[backup_group(database)] = f"{database.label} backup not read: {reason}"


def _hint(database: DatabaseTarget, output: Output) -> str:
    """The fix for a client stopped by `timeout`, or for a refused `sudo -n -u USER`: the
    sudoers line it needs."""
    if output.status in (124, 137):  # timeout's own status; KILLed after its -k grace
        return (
            f"; no answer within {CLIENT_TIMEOUT_SECONDS}s, so the client was stopped: check "
            "that the server answers (load, locks, a full disk) at that socket or port"
        )
    if database.run_as is None or "sudo:" not in output.text:
        return ""
    client = {"postgresql": "psql", "redis": "redis-cli", "mysql": "mysql"}[database.engine]
    return (
        f"; let the SSH user run the client as {database.run_as} without a password "
        f"(sudoers: vigil ALL=({database.run_as}) NOPASSWD: /usr/bin/{client})"
    )


# -- resources ---------------------------------------------------------------------------------


def native_id(target: Target, database: DatabaseTarget) -> str:
    return f"{target.label}:{database.label}"


def _upstream(
    facts: DatabaseFacts, database: DatabaseTarget, targets: Mapping[str, Target]
) -> tuple[Target, DatabaseTarget] | None:
    """The declared server a replica streams from (same engine, its host and port)."""
    if facts.upstream_host is None:
        return None
    port = facts.upstream_port or database.listen_port
    for other in targets.values():
        for candidate in other.databases:
            if candidate.engine != database.engine or candidate.listen_port != port:
                continue
            if facts.upstream_host in (other.host, other.label, candidate.host):
                return other, candidate
    return None


def resources(
    source: str, target: Target, facts: HostFacts, targets: Mapping[str, Target], *, cache: bool
) -> list[Resource]:
    """The host's declared databases (`cache=False`) or caches (`cache=True`)."""
    found = []
    for database in target.databases:
        if database.is_cache != cache:
            continue
        seen = facts.databases.get(database.label)
        if seen is None:
            continue  # its group failed: the scope fails before this is reached
        found.append(_resource(source, target, database, seen, targets))
    return found


def _resource(
    source: str,
    target: Target,
    database: DatabaseTarget,
    seen: DatabaseFacts,
    targets: Mapping[str, Target],
) -> Resource:
    type_ = CACHE if database.is_cache else DATABASE
    role = seen.role or (database.role if not seen.running else None)
    streaming = seen.streaming
    if not seen.running and role == "replica":
        streaming = False  # a declared replica that is down receives nothing
    upstream = _upstream(seen, database, targets) if seen.running else None
    replica_of = native_id(*upstream) if upstream else None
    attributes: dict[str, Any] = {
        "engine": database.engine,
        "version": seen.version,
        "host": target.label,
        "address": target.host,
        "port": database.listen_port,
        "running": seen.running,
        "role": role,
        "declared_role": database.role,
        "replication": database.replication,
        "streaming": streaming,
        "replication_state": seen.state,
        "lag_seconds": seen.lag_seconds,
        "lag_bytes": seen.lag_bytes,
        "upstream": _address(seen.upstream_host, seen.upstream_port),
        "replica_of": replica_of,
        "replicas": sorted(str(r.get("id") or "?") for r in seen.replicas),
        "replica_count": seen.replica_count if seen.running else None,
        "replica_details": seen.replicas,
        "error": seen.error,
    }
    if database.backup is not None:
        attributes["last_backup_at"] = seen.backup.started_at if seen.backup else None
    resource = Resource(
        source=source,
        provider="hosts",
        account=target.label,
        region=GLOBAL_REGION,
        type=type_,
        native_id=native_id(target, database),
        name=native_id(target, database),
        tags={**target.tags, **database.tags},
        attributes=attributes,
    )
    if upstream is not None:
        other, primary = upstream
        resource.link(
            LinkKind.REPLICA_OF,
            make_uid("hosts", other.label, GLOBAL_REGION, type_, native_id(other, primary)),
        )
    return resource


def _address(host: Any, port: Any) -> str | None:
    if not host:
        return None
    return f"{host}:{port}" if port else str(host)


def backups(source: str, target: Target, facts: HostFacts) -> list[Resource]:
    """Each declared database's newest backup, as a snapshot whose source is the database."""
    found = []
    for database in target.databases:
        seen = facts.databases.get(database.label)
        if database.backup is None or seen is None or seen.backup is None:
            continue
        type_ = CACHE if database.is_cache else DATABASE
        db_id = native_id(target, database)
        source_uid = make_uid("hosts", target.label, GLOBAL_REGION, type_, db_id)
        resource = Resource(
            source=source,
            provider="hosts",
            account=target.label,
            region=GLOBAL_REGION,
            type=SNAPSHOT,
            native_id=f"{db_id}@backup",
            name=f"{db_id}@backup",
            tags={**target.tags, **database.tags},
            attributes={
                "kind": "file",
                "state": "completed",
                "started_at": seen.backup.started_at,
                "source_uid": source_uid,
                "source_native_id": db_id,
                "location": seen.backup.location,
                "size_bytes": seen.backup.size_bytes,
            },
        )
        resource.link(LinkKind.BACKS_UP, source_uid)
        found.append(resource)
    return found


def needed_groups(target: Target, type_: str) -> list[str]:
    """The database fact groups a scope of `type_` of this host is built from."""
    if type_ == SNAPSHOT:  # a database's snapshot is built from its client's facts too
        return [g for d in target.databases if d.backup for g in (group(d), backup_group(d))]
    if type_ not in (DATABASE, CACHE):
        return []
    cache = type_ == CACHE
    found = []
    for database in target.databases:
        if database.is_cache == cache:
            found.append(group(database))
            if database.backup is not None:
                found.append(backup_group(database))
    return found
