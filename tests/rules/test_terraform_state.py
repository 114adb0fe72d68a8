"""Terraform state bytes → a baseline: what it declares and which accounts it covers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from rules.terraform_state import parse_baseline, parse_state, split_s3
from vigil.core.errors import InputError

ACCOUNT = "111111111111"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'


def state(*resources: dict[str, Any], version: int = 4) -> bytes:
    return json.dumps({"version": version, "resources": list(resources)}).encode()


def block(tf_type: str, name: str, *instances: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"mode": "managed", "type": tf_type, "name": name, "provider": AWS,
            "instances": list(instances), **more}  # fmt: skip


def test_module_count_and_for_each_addresses() -> None:
    baseline = parse_baseline(
        state(
            block("aws_instance", "web",
                  {"index_key": 0, "attributes": {"id": "i-1", "root_block_device": [
                      {"volume_id": "vol-root"}]}},
                  {"index_key": 1, "attributes": {"id": "i-2"}}),
            block("aws_security_group", "app", {"index_key": "blue", "attributes": {"id": "sg-b"}},
                  module="module.app"),
            {"mode": "data", "type": "aws_ami", "name": "u", "instances": [{"attributes": {}}]},
        ),
        "x.tfstate",
    )  # fmt: skip
    assert {d.address: d.native_id for d in baseline.declared} == {
        "aws_instance.web[0]": "i-1",
        "aws_instance.web[0].root_block_device[0]": "vol-root",
        "aws_instance.web[1]": "i-2",
        'module.app.aws_security_group.app["blue"]': "sg-b",
    }


def test_accounts_and_regions_come_from_arns_and_owner_ids() -> None:
    baseline = parse_baseline(
        state(
            block("aws_instance", "web", {"attributes": {
                "id": "i-1", "arn": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-1",
                "root_block_device": [{"volume_id": "vol-root"}]}}),
            block("aws_security_group", "app", {"attributes": {
                "id": "sg-1", "owner_id": "222222222222"}}),
        ),
        "x.tfstate",
    )  # fmt: skip
    where = {d.native_id: (d.account, d.region) for d in baseline.declared}
    assert where == {
        "i-1": (ACCOUNT, "eu-west-1"),
        "vol-root": (ACCOUNT, "eu-west-1"),  # created by the instance, where it lives
        "sg-1": ("222222222222", None),
    }
    assert baseline.covers == {("aws", ACCOUNT), ("aws", "222222222222")}


def test_a_resource_naming_no_account_belongs_to_the_states_only_account() -> None:
    baseline = parse_baseline(
        state(
            block("aws_instance", "web", {"attributes": {
                "id": "i-1", "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1"}}),
            block("aws_route53_zone", "main", {"attributes": {
                "zone_id": "Z1", "arn": "arn:aws:route53:::hostedzone/Z1"}}),
        ),
        "x.tfstate",
    )  # fmt: skip
    assert {d.native_id: d.account for d in baseline.declared} == {"i-1": ACCOUNT, "Z1": ACCOUNT}


def test_explicit_accounts_replace_the_inferred_ones() -> None:
    data = state(
        block("aws_instance", "a", {"attributes": {
            "id": "i-a", "arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-a"}}),
        block("aws_instance", "b", {"attributes": {
            "id": "i-b", "arn": "arn:aws:ec2:us-east-1:222222222222:instance/i-b"}}),
    )  # fmt: skip
    baseline = parse_baseline(data, "x.tfstate", accounts=[ACCOUNT])
    assert baseline.covers == {("aws", ACCOUNT)}
    assert [d.native_id for d in baseline.declared] == ["i-a"]


def test_resources_of_other_providers_cover_nothing() -> None:
    google = block("aws_instance", "odd", {"attributes": {"id": "i-1", "owner_id": ACCOUNT}})
    google["provider"] = 'provider["registry.terraform.io/hashicorp/google"]'
    baseline = parse_baseline(state(google), "x.tfstate")
    assert baseline.declared == () and baseline.covers == frozenset()


@pytest.mark.parametrize(
    ("data", "problem", "line"),
    [
        (b'{"version": 4,\n"resources": [\n\xff\xfe]}', "not UTF-8 text (byte 0xff)", 3),
        (b"\x1f\x8b\x08\x00\x00\x00binary", "binary data", None),
        (b'{"version": 4,\n "resources": [', "not valid JSON", 2),
        (state(version=3), "version 4 (version: 3)", None),
        (b"[1, 2]", "version 4 (version: None)", None),
        (b'{"version": 4, "resources": {"a": 1}}', "'resources' must be a list", None),
        (b'{"version": 4, "resources": [{"mode": "weird", "instances": []}]}', "mode", None),
        (b'{"version": 4, "resources": [{"type": "aws_instance", "instances": ["i"]}]}',
         "instance 0 of aws_instance", None),
    ],
)  # fmt: skip
def test_what_is_not_a_v4_state_is_an_input_error_naming_the_file(
    data: bytes, problem: str, line: int | None
) -> None:
    with pytest.raises(InputError) as caught:
        parse_baseline(data, "s3://acme/prod.tfstate")
    assert problem in caught.value.problem
    assert caught.value.path == "s3://acme/prod.tfstate"
    assert caught.value.line == line
    assert caught.value.fix


@pytest.mark.parametrize("location", ["s3://", "s3://bucket", "s3://bucket/", "s3:///key"])
def test_an_s3_address_needs_bucket_and_key(location: str) -> None:
    with pytest.raises(InputError, match="not an S3 object address"):
        split_s3(location)
    assert split_s3("s3://acme-tf/env/prod.tfstate") == ("acme-tf", "env/prod.tfstate")


@pytest.mark.timeout(30)
def test_a_state_path_that_is_a_fifo_or_directory_is_refused_unopened(tmp_path: Path) -> None:
    fifo = tmp_path / "terraform.tfstate"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a FIFO") as caught:
        parse_state(str(fifo))
    assert caught.value.path == str(fifo)
    with pytest.raises(InputError, match="a directory"):
        parse_state(str(tmp_path))
