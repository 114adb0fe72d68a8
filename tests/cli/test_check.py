"""`vigil check`, `findings`, `silence` and `rules` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from tests.fixtures.cli import VigilCli
from vigil.core.model import utcnow

FINDING_FIELDS = {
    "fingerprint", "rule", "severity", "status", "title", "detail", "resource_uid", "native_id",
    "type", "source", "region", "first_seen", "last_seen",
}  # fmt: skip


def seed(cli: VigilCli) -> None:
    """An open SSH port (high) and a certificate expiring in 20 days (medium)."""
    db = Database(f"sqlite:///{cli.database_path}")
    reconciler = Reconciler(db)
    groups, certs = scope(type_="security_group"), scope(type_="certificate")
    ssh = {"protocol": "tcp", "from_port": 22, "to_port": 22, "source": "0.0.0.0/0",
           "source_kind": "ipv4"}  # fmt: skip
    expires = (utcnow() + timedelta(days=20, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for target, items in (
        (groups, [resource("sg-ssh", within=groups, ingress=[ssh], egress=[])]),
        (
            certs,
            [resource("arn:cert", within=certs, common_name="api.example.com", not_after=expires)],
        ),
    ):
        run = reconciler.start(target)
        reconciler.add_page(run, items)
        reconciler.complete(run)
    db.dispose()


def findings(cli: VigilCli, *args: str) -> list[dict[str, Any]]:
    result = cli("findings", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.mark.slow
def test_check_summarizes_and_fail_on_sets_the_exit_code(vigil_cli: VigilCli) -> None:
    seed(vigil_cli)
    first = vigil_cli("check", "--no-notify")
    assert first.returncode == 0, first.stderr
    assert "open: critical 0, high 1, medium 1, low 0, info 0" in first.stdout
    assert "new 2" in first.stdout
    assert "security group sg-ssh is open to the internet on port(s) 22" in first.stdout
    assert vigil_cli("check", "--fail-on", "high").returncode == 1
    assert vigil_cli("check", "--fail-on", "critical").returncode == 0
    assert "still_open 2" in vigil_cli("check").stdout


@pytest.mark.slow
def test_findings_json_carries_the_contract_fields(vigil_cli: VigilCli) -> None:
    seed(vigil_cli)
    vigil_cli("check")
    rows = findings(vigil_cli)
    assert [r["rule"] for r in rows] == ["network.open_port", "cert.expiring"]  # worst first
    assert set(rows[0]) >= FINDING_FIELDS
    assert rows[0]["status"] == "open" and rows[0]["first_seen"].endswith("Z")
    assert rows[1]["title"] == "certificate api.example.com expires in 20 days (threshold 30)"
    assert [r["rule"] for r in findings(vigil_cli, "--severity", "medium")] == ["cert.expiring"]
    assert findings(vigil_cli, "--status", "resolved") == []
    assert findings(vigil_cli, "--rule", "dns.dangling") == []


def test_findings_csv(vigil_cli: VigilCli) -> None:
    seed(vigil_cli)
    vigil_cli("check")
    result = vigil_cli("findings", "--format", "csv", "--rule", "network.open_port")
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["severity"] == "high" and row["native_id"] == "sg-ssh"


@pytest.mark.slow
def test_silence_add_list_remove(vigil_cli: VigilCli) -> None:
    seed(vigil_cli)
    vigil_cli("check")
    added = vigil_cli(
        "silence", "add", "--rule", "network.open_port", "--match", "type=security_group",
        "--reason", "bastion, tracked in OPS-12", "--expires", "7d", "--author", "ann",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.split()[1]
    assert vigil_cli("check", "--fail-on", "high").returncode == 0  # silenced: not counted
    assert [r["rule"] for r in findings(vigil_cli, "--status", "silenced")] == ["network.open_port"]
    listed = json.loads(vigil_cli("silence", "list", "--format", "json").stdout)
    assert listed[0]["reason"] == "bastion, tracked in OPS-12" and listed[0]["author"] == "ann"
    assert vigil_cli("silence", "remove", silence_id).returncode == 0
    assert vigil_cli("check", "--fail-on", "high").returncode == 1
    assert vigil_cli("silence", "remove", silence_id).returncode == 2


def test_silence_add_rejects_unknown_rule_and_bad_duration(vigil_cli: VigilCli) -> None:
    bad_rule = vigil_cli("silence", "add", "--rule", "nope", "--reason", "x", "--expires", "1d")
    assert bad_rule.returncode == 2 and "unknown rule 'nope'" in bad_rule.stderr
    bad_time = vigil_cli(
        "silence", "add", "--rule", "cert.expired", "--reason", "x", "--expires", "soon"
    )
    assert bad_time.returncode == 2 and "duration" in bad_time.stderr


@pytest.mark.slow
def test_rules_list_filters_by_framework_and_show_prints_params(vigil_cli: VigilCli) -> None:
    listed = json.loads(
        vigil_cli("rules", "list", "--framework", "cis-aws", "--format", "json").stdout
    )
    assert "network.open_port" in {r["id"] for r in listed}
    assert "backup.missing" not in {r["id"] for r in listed}
    shown = vigil_cli("rules", "show", "network.open_port")
    assert shown.returncode == 0
    assert "sensitive_ports: [22, 3389" in shown.stdout
    assert "cis-aws-3.0: 5.2, 5.3" in shown.stdout
    assert vigil_cli("rules", "show", "nope").returncode == 2


def test_malformed_terraform_state_exits_2_and_writes_nothing(
    vigil_cli: VigilCli, tmp_path: Path
) -> None:
    seed(vigil_cli)
    (tmp_path / "bad.tfstate").write_text('{"version": 4,\n "resources": [\n}')
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "rules:\n  params:\n    drift.unmanaged: {state_files: [bad.tfstate]}\n"
    )
    result = vigil_cli("check")
    assert result.returncode == 2
    assert "bad.tfstate:3" in result.stderr
    assert findings(vigil_cli, "--status", "all") == []


@pytest.mark.parametrize(
    ("pack", "expected"),
    [("rules:\n  - id: acme.x\n    title: X\n    severity: loud\n", "pack.yaml:4")],
)
def test_invalid_rule_pack_exits_2(vigil_cli: VigilCli, pack: str, expected: str) -> None:
    (vigil_cli.cwd / "pack.yaml").write_text(pack)
    (vigil_cli.cwd / "vigil.yaml").write_text("rules:\n  packs: [pack.yaml]\n")
    result = vigil_cli("check")
    assert result.returncode == 2
    assert expected in result.stderr


@pytest.mark.parametrize(
    "state",
    [
        '{"version": 4,\n "resources": [\n}',  # not JSON
        '{"version": 4, "resources": [{"type": "aws_instance", "instances": ["i-1"]}]}',
    ],
)
def test_bad_terraform_state_exits_2_before_the_database_exists(
    vigil_cli: VigilCli, state: str
) -> None:
    (vigil_cli.cwd / "bad.tfstate").write_text(state)
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "rules:\n  params:\n    drift.missing: {state_files: [bad.tfstate]}\n"
    )
    result = vigil_cli("check")
    assert result.returncode == 2, result.stderr
    assert "bad.tfstate" in result.stderr and "Traceback" not in result.stderr
    assert not vigil_cli.database_path.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--match", "no-equals-sign"], "is not label=value"),
        (["--expires", "0s"], "longer than 0s"),
    ],
)
def test_silence_add_checks_every_argument_before_the_database(
    vigil_cli: VigilCli, args: list[str], expected: str
) -> None:
    options = {"--rule": "cert.expired", "--reason": "x", "--expires": "1d"}
    options.update(zip(args[::2], args[1::2], strict=True))
    result = vigil_cli("silence", "add", *(part for pair in options.items() for part in pair))
    assert result.returncode == 2 and expected in result.stderr
    assert not vigil_cli.database_path.exists()
