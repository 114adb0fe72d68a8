"""`vigil collect`, `vigil inventory` and `vigil changes` as a user runs them, against moto."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.factories.aws import seed_client
from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.cli import VigilCli
from vigil.app.demo_estate import seed_estate

REGIONS = ("us-east-1", "eu-west-1")
INVENTORY_FIELDS = {
    "uid", "source", "provider", "account", "region", "type", "native_id", "name", "tags",
    "attributes", "first_seen", "last_seen", "state",
}  # fmt: skip


def configure(cli: VigilCli, endpoint_url: str, **extra: str) -> None:
    lines = [
        "sources:",
        "  - name: aws-test",
        "    provider: aws",
        f"    regions: [{', '.join(REGIONS)}]",
        f"    endpoint_url: {endpoint_url}",
        *(f"    {key}: {value}" for key, value in extra.items()),
    ]
    (cli.cwd / "vigil.yaml").write_text("\n".join(lines) + "\n")


def inventory(cli: VigilCli, *args: str) -> list[dict[str, Any]]:
    result = cli("inventory", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.fixture
def estate(moto: str) -> Any:
    return seed_estate(moto, regions=REGIONS, servers_per_region=2)


def test_collect_prints_scopes_and_inventory_follows_the_contract(
    vigil_cli: VigilCli, moto: str, estate: Any
) -> None:
    configure(vigil_cli, moto, types="[server, disk]")
    result = vigil_cli("collect")

    assert result.returncode == 0, result.stderr
    assert "4 scopes, 0 failed" in result.stdout
    servers = inventory(vigil_cli, "--type", "server")
    assert len(servers) == estate.counts["server"]
    assert set(servers[0]) == INVENTORY_FIELDS
    assert servers[0]["first_seen"].endswith("Z")
    assert {s["region"] for s in servers} == set(REGIONS)


def test_inventory_csv_has_a_header_and_a_row_per_resource(
    vigil_cli: VigilCli, moto: str, estate: Any
) -> None:
    configure(vigil_cli, moto, types="[disk]")
    assert vigil_cli("collect").returncode == 0
    result = vigil_cli("inventory", "--format", "csv", "--region", "eu-west-1")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and all(row["type"] == "disk" and row["region"] == "eu-west-1" for row in rows)
    assert json.loads(rows[0]["tags"]) == inventory(vigil_cli, "--region", "eu-west-1")[0]["tags"]


def test_failed_region_exits_1_and_keeps_its_resources(
    vigil_cli: VigilCli, moto: str, estate: Any, aws_proxy: Callable[..., AwsProxy]
) -> None:
    configure(vigil_cli, moto, types="[disk]")
    assert vigil_cli("collect").returncode == 0
    before = {d["uid"] for d in inventory(vigil_cli) if d["region"] == "eu-west-1"}
    for region in REGIONS:
        _delete_one_detached_volume(region, moto)

    configure(vigil_cli, aws_proxy(deny_regions={"eu-west-1"}).url, types="[disk]")
    result = vigil_cli("collect")

    assert result.returncode == 1
    assert "failed" in result.stdout and "eu-west-1" in result.stdout
    assert "nothing of them was changed" in result.stderr
    after = {d["uid"] for d in inventory(vigil_cli) if d["region"] == "eu-west-1"}
    assert after == before
    deleted = json.loads(vigil_cli("changes", "--kind", "deleted", "--format", "json").stdout)
    assert [d["region"] for d in deleted] == ["us-east-1"]


def test_changes_and_as_of_show_the_history(vigil_cli: VigilCli, moto: str, estate: Any) -> None:
    configure(vigil_cli, moto, types="[disk]")
    assert vigil_cli("collect").returncode == 0
    deleted_id = _delete_one_detached_volume("us-east-1", moto)
    assert vigil_cli("collect").returncode == 0

    changes = json.loads(vigil_cli("changes", "--since", "1h", "--format", "json").stdout)
    kinds = [(c["kind"], c["native_id"]) for c in changes if c["kind"] == "deleted"]
    assert kinds == [("deleted", deleted_id)]
    assert {"uid", "native_id", "type", "source", "region", "kind", "changes", "at"} <= set(
        changes[0]
    )

    first_event = changes[0]["at"]
    then = {d["native_id"] for d in inventory(vigil_cli, "--as-of", first_event)}
    now = {d["native_id"] for d in inventory(vigil_cli)}
    assert deleted_id in then and deleted_id not in now
    with_deleted = {d["native_id"]: d["state"] for d in inventory(vigil_cli, "--include-deleted")}
    assert with_deleted[deleted_id] == "deleted"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inventory", "--type", "vm"], "unknown resource type 'vm'"),
        (["inventory", "--as-of", "last tuesday"], "is not an ISO 8601 time"),
        (["changes", "--kind", "renamed"], "unknown kind 'renamed'"),
        (["collect", "--source", "nope"], "no source named 'nope'"),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(
    vigil_cli: VigilCli, moto: str, args: list[str], message: str
) -> None:
    configure(vigil_cli, moto)
    result = vigil_cli(*args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())


def test_every_command_explains_itself(vigil_cli: VigilCli) -> None:
    top = vigil_cli("--help")
    assert top.returncode == 0
    for command in ("collect", "inventory", "changes", "init", "demo", "dashboard"):
        assert command in top.stdout
        assert vigil_cli(command, "--help").returncode == 0


def _delete_one_detached_volume(region: str, endpoint_url: str) -> str:
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint_url)
    for volume in ec2.describe_volumes()["Volumes"]:
        if not volume["Attachments"]:
            ec2.delete_volume(VolumeId=volume["VolumeId"])
            return str(volume["VolumeId"])
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=1)
    raise AssertionError(f"no detached volume in {region}; made {volume['VolumeId']}")


@pytest.mark.parametrize("option", ["--since", "--until"])
def test_changes_with_a_bad_time_exits_2_before_the_database_exists(
    vigil_cli: VigilCli, option: str
) -> None:
    result = vigil_cli("changes", option, "yesterday")
    assert result.returncode == 2
    assert "not an ISO 8601 time" in result.stderr
    assert not vigil_cli.database_path.exists()


def test_inventory_shows_the_restore_point_of_the_last_collect_and_changes_none(
    vigil_cli: VigilCli, moto: str
) -> None:
    seed_client(moto, "rds").create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=7,
    )
    configure(vigil_cli, moto, types="[database]")
    assert vigil_cli("collect").returncode == 0
    (first,) = inventory(vigil_cli, "--type", "database")
    time.sleep(1.1)  # moto reports "now", to the second
    assert vigil_cli("collect").returncode == 0

    (again,) = inventory(vigil_cli, "--type", "database")

    key = "latest_restorable_time"
    assert again["attributes"][key] > first["attributes"][key]  # moto moves it on every read
    changes = json.loads(vigil_cli("changes", "--format", "json").stdout)
    assert [c["kind"] for c in changes if c["native_id"] == "orders"] == ["created"]


def test_collect_into_a_database_that_cannot_open_says_so_and_prints_no_table(
    vigil_cli: VigilCli, moto: str
) -> None:
    configure(vigil_cli, moto, types="[server]")
    unopenable = vigil_cli.cwd / "a-directory.db"
    unopenable.mkdir()
    result = vigil_cli("collect", env={"VIGIL_DATABASE_URL": f"sqlite:///{unopenable}"})

    assert result.returncode == 1, result.stdout
    assert "cannot open the database" in result.stderr
    assert " scopes, " not in result.stdout
