"""A hosts source's `restore_evidence`: a file or a command, read over a real OpenSSH server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from collectors.hosts import HostsCollector
from collectors.hosts.config import HostsSourceConfig
from collectors.hosts.facts import FactError, Output, parse_restore_file, parse_restore_log
from storage.db import Database
from tests.collectors.hosts.conftest import hosts_config
from tests.collectors.hosts.test_ssh import collect_all
from tests.fixtures.cli import VigilCli
from tests.fixtures.sshd import SshServer
from vigil.app.check import run_check
from vigil.app.collect import collect
from vigil.core.model import fingerprint, iso

RULE = "backup.restore_untested"


def ago(days: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)


def test_the_newest_successful_line_counts_and_failed_drills_do_not() -> None:
    forty, three = iso(ago(40)), iso(ago(3))
    text = f"# restore drills\n{forty} ok\n{int(ago(5).timestamp())} FAILED checksum\n\n"
    found = parse_restore_log(text)
    assert (found.last_success_at, found.entries) == (forty, 2)
    assert parse_restore_log(f"{three}\n").last_success_at == three  # no status: ok


def test_times_with_an_offset_or_none_are_read_as_instants_in_utc() -> None:
    text = "2026-11-30T10:00:00+02:00 ok\n2026-11-30T07:30:00 ok\n"  # naive: UTC
    assert parse_restore_log(text).last_success_at == "2026-11-30T08:00:00Z"


def test_an_unreadable_line_fails_the_evidence_instead_of_being_skipped() -> None:
    with pytest.raises(FactError, match="line 2 starts with 'yesterday'"):
        parse_restore_log(f"{iso(ago(1))} ok\nyesterday ok\n")


def test_a_missing_file_is_no_restore_on_record_and_a_denied_one_is_unknown() -> None:
    missing = Output("cat -- /x", 1, "cat: /x: No such file or directory")
    assert parse_restore_file(missing).last_success_at is None
    with pytest.raises(FactError, match="Permission denied"):
        parse_restore_file(Output("cat -- /x", 1, "cat: /x: Permission denied"))


def by_type(config_options: dict[str, object], sshd: SshServer) -> dict[str, list]:  # type: ignore[type-arg]
    return collect_all(HostsCollector(hosts_config(sshd, **config_options)))


def test_file_evidence_reaches_the_disks_it_covers_and_the_server(
    sshd: SshServer, tmp_path: Path
) -> None:
    log = tmp_path / "restore-drill.log"
    drill = iso(ago(40))  # once: a second may pass before the assertion
    log.write_text(f"{drill} ok\n{iso(ago(2))} failed\n")
    found = by_type(
        {"restore_evidence": {"file": str(log), "max_age": "30d", "covers": ["/"]}}, sshd
    )

    [root] = [d for d in found["disk"] if d.attributes["mountpoint"] == "/"]
    [server] = found["server"]
    for resource in (root, server):
        assert resource.attributes["restore_evidence"] == "file"
        assert resource.attributes["last_restore_at"] == drill
        assert resource.attributes["restore_max_age_seconds"] == 30 * 86400
    others = [d for d in found["disk"] if d.attributes["mountpoint"] != "/"]
    assert all("restore_evidence" not in d.attributes for d in others)


def test_command_evidence_is_read_over_ssh(sshd: SshServer) -> None:
    stamp = int(time.time()) - 3 * 86400
    found = by_type({"restore_evidence": {"command": f"echo {stamp} succeeded"}}, sshd)

    [server] = found["server"]
    assert server.attributes["restore_evidence"] == "command"
    assert server.attributes["last_restore_at"] == iso(datetime.fromtimestamp(stamp, UTC))
    assert server.attributes["restore_max_age_seconds"] is None


def test_a_failing_command_leaves_the_evidence_unknown_and_the_scopes_complete(
    sshd: SshServer,
) -> None:
    found = by_type({"restore_evidence": {"command": "sh -c 'exit 3'"}}, sshd)

    [server] = found["server"]
    assert found["disk"]  # the disk scope still completed
    assert server.attributes["restore_evidence"] is None
    assert "exit 3" in server.attributes["restore_evidence_error"]


def test_an_old_drill_flags_and_an_unreadable_one_stays_undecided(
    sshd: SshServer, tmp_path: Path, sqlite_db: Database
) -> None:
    log = tmp_path / "restore-drill.log"
    log.write_text(f"{iso(ago(120))} ok\n")
    config = hosts_config(sshd, restore_evidence={"file": str(log), "covers": ["/"]})

    assert collect(sqlite_db, [config]).failed == []
    findings = [f for f in run_check(sqlite_db).evaluation.findings if f.rule == RULE]

    assert [f.native_id for f in findings] == ["local:/"]
    assert findings[0].title == "disk local:/ last proven restore is 120d old (max age 90d)"

    log.write_text("not-a-time ok\n")
    assert collect(sqlite_db, [config]).failed == []
    check = run_check(sqlite_db)
    assert not [f for f in check.evaluation.findings if f.rule == RULE]
    assert fingerprint(RULE, "hosts/local/global/disk/local:/") in check.evaluation.unjudged


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"file": "restore.log"}, "must be an absolute path"),
        ({"file": "/var/log/r.log", "command": "true"}, "exactly one of file or command"),
        ({}, "exactly one of file or command"),
        ({"file": "/var/log/r.log", "max_age": "soon"}, "max_age"),
        ({"file": "/var/log/r.log", "max_age": "0s"}, "must be positive"),
    ],
)
def test_restore_evidence_config_errors(block: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HostsSourceConfig(name="colo", ssh={"key_file": "/k"}, restore_evidence=block)  # type: ignore[arg-type]


def test_a_bad_restore_evidence_block_exits_2_naming_the_file_and_line(
    vigil_cli: VigilCli,
) -> None:
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "sources:\n  - name: colo\n    provider: hosts\n"
        "    ssh: {user: vigil, key_file: /etc/vigil/id, known_hosts: /etc/vigil/kh}\n"
        "    targets: [{host: 10.0.0.5}]\n"
        "    restore_evidence: {file: restore.log}\n",
        encoding="utf-8",
    )
    result = vigil_cli("config", "validate")
    assert result.returncode == 2
    assert "vigil.yaml:6" in result.stderr
    assert "must be an absolute path" in result.stderr
