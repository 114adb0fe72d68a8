"""`vigil check` with Terraform state: bad local files and remote state read from S3 (moto)."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest

from collectors.aws.config import AwsSourceConfig
from collectors.aws.guard import called_operations, reset_called_operations
from collectors.aws.session import Sessions
from storage.db import Database
from storage.reconcile import Reconciler
from tests.cli.test_check import findings
from tests.factories import resource, scope
from tests.fixtures.awsproxy import AwsProxy
from tests.fixtures.cli import VigilCli
from vigil.app.baselines import read_s3

ACCOUNT = "111111111111"
SERVERS = scope(source="aws-prod", type_="server")
BUCKET = "acme-tfstate"
KEY = "prod/terraform.tfstate"


def state_bytes(*instance_ids: str) -> bytes:
    instances = [
        {"index_key": i, "attributes": {
            "id": native_id, "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{native_id}"}}
        for i, native_id in enumerate(instance_ids)
    ]  # fmt: skip
    block = {
        "mode": "managed",
        "type": "aws_instance",
        "name": "web",
        "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
        "instances": instances,
    }
    return json.dumps({"version": 4, "resources": [block]}).encode()


def config(endpoint: str, state_file: str, source: str = "aws-prod") -> str:
    return (
        "sources:\n"
        "  - name: aws-prod\n    provider: aws\n    regions: [us-east-1]\n"
        f"    endpoint_url: {endpoint}\n"
        "rules:\n  params:\n"
        f"    drift.missing: {{state_files: ['{state_file}'], state_source: {source}}}\n"
    )


def seed_servers(cli: VigilCli, *native_ids: str) -> None:
    """A completed scan of aws-prod's servers in 111111111111/us-east-1."""
    db = Database(f"sqlite:///{cli.database_path}")
    reconciler = Reconciler(db)
    run = reconciler.start(SERVERS)
    reconciler.add_page(run, [resource(n, within=SERVERS) for n in native_ids])
    reconciler.complete(run)
    db.dispose()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"version": 4,\n"resources": [\n\xff]}', "bad.tfstate:3: not UTF-8 text"),
        (b"\x1f\x8b\x08\x00\x00binary", "bad.tfstate: binary data"),
        (b'{"version": 4,\n "resources": [', "bad.tfstate:2: not valid JSON"),
        (json.dumps({"version": 3, "modules": []}).encode(), "format version 4 (version: 3)"),
    ],
)
def test_a_bad_state_file_exits_2_naming_it_and_writes_nothing(
    vigil_cli: VigilCli, data: bytes, expected: str
) -> None:
    (vigil_cli.cwd / "bad.tfstate").write_bytes(data)
    (vigil_cli.cwd / "vigil.yaml").write_text(
        "rules:\n  params:\n    drift.unmanaged: {state_files: [bad.tfstate]}\n"
    )
    result = vigil_cli("check")
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "fix:" in result.stderr and "Traceback" not in result.stderr
    assert not vigil_cli.database_path.exists()


def test_state_source_must_name_an_aws_source(vigil_cli: VigilCli) -> None:
    (vigil_cli.cwd / "vigil.yaml").write_text(config("http://127.0.0.1:9", "s3://b/k", "nope"))
    result = vigil_cli("check")
    assert result.returncode == 2
    assert "vigil.yaml:8" in result.stderr
    assert "'nope' is not an AWS source (AWS sources: aws-prod)" in result.stderr


def test_an_s3_address_without_a_key_is_a_config_error(vigil_cli: VigilCli) -> None:
    (vigil_cli.cwd / "vigil.yaml").write_text(config("http://127.0.0.1:9", "s3://bucket-only"))
    result = vigil_cli("check")
    assert result.returncode == 2
    assert "vigil.yaml:8" in result.stderr and "not an S3 object address" in result.stderr


def put_state(endpoint: str, data: bytes) -> None:
    """Test setup may write to moto; Vigil only reads."""
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=data)


@pytest.mark.slow
def test_remote_state_in_s3_is_read_by_check(vigil_cli: VigilCli, moto: str) -> None:
    put_state(moto, state_bytes("i-live", "i-gone"))
    seed_servers(vigil_cli, "i-live")
    (vigil_cli.cwd / "vigil.yaml").write_text(config(moto, f"s3://{BUCKET}/{KEY}"))
    result = vigil_cli("check", "--no-notify")
    assert result.returncode == 0, result.stderr
    (missing,) = [f for f in findings(vigil_cli) if f["rule"] == "drift.missing"]
    assert missing["native_id"] == "i-gone"
    assert missing["resource_uid"] == f"terraform:s3://{BUCKET}/{KEY}#aws_instance.web[1]"


def test_a_missing_state_object_exits_2_naming_it(vigil_cli: VigilCli, moto: str) -> None:
    put_state(moto, state_bytes())
    (vigil_cli.cwd / "vigil.yaml").write_text(config(moto, f"s3://{BUCKET}/other.tfstate"))
    result = vigil_cli("check")
    assert result.returncode == 2, result.stderr
    assert f"s3://{BUCKET}/other.tfstate: cannot read the Terraform state: no such object" in (
        result.stderr
    )
    assert "backend" in result.stderr and not vigil_cli.database_path.exists()


def test_a_denied_state_read_exits_2_with_the_grant_to_add(
    vigil_cli: VigilCli, moto: str, aws_proxy: Callable[..., AwsProxy]
) -> None:
    put_state(moto, state_bytes())
    proxy = aws_proxy(deny_regions=["us-east-1"])
    (vigil_cli.cwd / "vigil.yaml").write_text(config(proxy.url, f"s3://{BUCKET}/{KEY}"))
    result = vigil_cli("check")
    assert result.returncode == 2, result.stderr
    assert "access denied" in result.stderr
    assert f"grant s3:GetObject on arn:aws:s3:::{BUCKET}/{KEY} to source 'aws-prod'" in (
        result.stderr
    )
    assert not vigil_cli.database_path.exists()


def test_remote_state_is_fetched_with_a_guarded_get_object_only(moto: str) -> None:
    put_state(moto, b"{}")
    reset_called_operations()
    sessions = Sessions(AwsSourceConfig(name="aws-prod", regions=["us-east-1"], endpoint_url=moto))
    assert read_s3(f"s3://{BUCKET}/{KEY}", sessions) == b"{}"
    assert called_operations() == {("s3", "GetObject")}
