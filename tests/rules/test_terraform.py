"""drift.unmanaged and drift.missing: judged only where a baseline covers the account and
provider, and only where every scan of the type there is known (DESIGN.md, rule definitions)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from rules.terraform import Missing, Unmanaged
from tests.factories.rules import (
    ACCOUNT,
    NOW,
    REGION,
    database,
    disk,
    evaluate,
    one,
    scope_state,
    security_group,
    server,
    view,
)
from vigil.core.errors import InputError
from vigil.core.model import Severity, fingerprint

UNMANAGED = Unmanaged()
MISSING = Missing()
OTHER = "222222222222"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'


def arn(service: str, what: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{account}:{what}"


def block(
    tf_type: str, name: str, *instances: dict[str, Any], module: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "mode": "managed",
        "type": tf_type,
        "name": name,
        "provider": AWS,
        "instances": list(instances),
    }
    if module:
        entry["module"] = module
    return entry


def instance(index_key: int | str | None = None, **attributes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"attributes": attributes}
    if index_key is not None:
        item["index_key"] = index_key
    return item


def ec2(
    native_id: str, account: str = ACCOUNT, region: str = REGION, **more: Any
) -> dict[str, Any]:
    return instance(id=native_id, arn=arn("ec2", f"instance/{native_id}", account, region), **more)


def write_state(tmp_path: Path, *resources: dict[str, Any], name: str = "terraform.tfstate") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"version": 4, "terraform_version": "1.6.0", "resources": list(resources)})
    )
    return str(path)


@pytest.fixture
def state(tmp_path: Path) -> str:
    """Account 111111111111 in us-east-1: two servers (one root volume), a database."""
    return write_state(
        tmp_path,
        block(
            "aws_instance",
            "web",
            instance(
                0,
                id="i-0001",
                arn=arn("ec2", "instance/i-0001"),
                root_block_device=[{"volume_id": "vol-root"}],
            ),
            ec2("i-0002", index_key=None),
        ),
        block("aws_db_instance", "main", instance(identifier="db-1", arn=arn("rds", "db:db-1"))),
    )


LIVE = (server("i-0001"), server("i-0002"), disk("vol-root"), database("db-1"))


# -- drift.unmanaged -------------------------------------------------------------------------


def test_live_resource_not_in_state_is_unmanaged_and_low(state: str) -> None:
    found = one(evaluate(UNMANAGED, view(*LIVE, server("i-hand-made")), state_files=[state]))
    assert found.native_id == "i-hand-made"
    assert found.severity is Severity.LOW
    assert found.title == "server i-hand-made is not in any Terraform state"


def test_declared_resources_and_the_default_security_group_are_not_unmanaged(state: str) -> None:
    inventory = view(*LIVE, security_group("sg-default", name="default"))
    assert evaluate(UNMANAGED, inventory, state_files=[state]) == []


def test_a_resource_in_an_account_no_state_covers_is_not_unmanaged(state: str) -> None:
    # Before: every live resource anywhere was "not in any Terraform state".
    elsewhere = replace(server("i-other"), account=OTHER, uid="")
    elsewhere.__post_init__()
    scopes = [scope_state("server"), replace(scope_state("server"), account=OTHER)]
    inventory = view(*LIVE, elsewhere, scopes=scopes)
    assert evaluate(UNMANAGED, inventory, state_files=[state]) == []
    assert inventory.unjudged == set()  # out of the baseline's scope, not unknown


@pytest.mark.parametrize("provider", ["probe", "hosts", "libcloud"])
def test_probe_hosts_and_libcloud_resources_are_never_unmanaged(state: str, provider: str) -> None:
    foreign = replace(server("web-1"), provider=provider, uid="")
    foreign.__post_init__()
    scopes = [scope_state("server"), replace(scope_state("server"), provider=provider)]
    assert evaluate(UNMANAGED, view(*LIVE, foreign, scopes=scopes), state_files=[state]) == []


def test_unmanaged_is_undecided_while_a_scan_of_the_type_in_the_account_failed(
    state: str,
) -> None:
    scopes = [
        scope_state("server"),
        scope_state("server", region="eu-west-1", status="failed", last_complete=None),
    ]
    hand_made = server("i-hand-made")
    inventory = view(*LIVE, hand_made, scopes=scopes)
    assert evaluate(UNMANAGED, inventory, state_files=[state]) == []
    assert inventory.unjudged == {fingerprint(UNMANAGED.id, hand_made.uid)}


def test_a_failed_scan_in_an_uncovered_account_does_not_blind_a_covered_one(state: str) -> None:
    failed = replace(scope_state("server", status="failed", last_complete=None), account=OTHER)
    inventory = view(*LIVE, server("i-hand-made"), scopes=[scope_state("server"), failed])
    assert one(evaluate(UNMANAGED, inventory, state_files=[state])).native_id == "i-hand-made"


def test_accounts_param_names_the_covered_accounts(tmp_path: Path) -> None:
    # Zones and buckets carry no account in their ARN: the user says which one the state covers.
    path = write_state(tmp_path, block("aws_route53_zone", "main", instance(zone_id="Z1")))
    inventory = view(server("i-hand-made"))
    assert evaluate(UNMANAGED, inventory, state_files=[path]) == []
    found = one(evaluate(UNMANAGED, inventory, state_files=[path], accounts=[ACCOUNT]))
    assert found.native_id == "i-hand-made"


def test_without_state_files_nothing_is_judged() -> None:
    assert evaluate(UNMANAGED, view(server("i-x"))) == evaluate(MISSING, view()) == []


# -- drift.missing ---------------------------------------------------------------------------


def test_declared_but_not_live_is_missing_and_high(state: str) -> None:
    inventory = view(server("i-0001"), database("db-1"), disk("vol-root"))
    found = one(evaluate(MISSING, inventory, state_files=[state]))
    assert found.severity is Severity.HIGH
    assert found.title == "server i-0002 (aws_instance.web) is declared in Terraform but not live"
    assert found.resource_uid == f"terraform:{state}#aws_instance.web"
    assert found.labels["account"] == ACCOUNT


def test_nothing_is_missing_when_everything_declared_is_live(state: str) -> None:
    assert evaluate(MISSING, view(*LIVE), state_files=[state]) == []


def test_missing_in_an_account_vigil_does_not_collect_is_undecided(tmp_path: Path) -> None:
    # Before: high "declared but not live" for every resource of an uncollected account.
    path = write_state(tmp_path, block("aws_instance", "far", ec2("i-far", account=OTHER)))
    inventory = view(server("i-0001"))
    assert evaluate(MISSING, inventory, state_files=[path]) == []
    assert evaluate(MISSING, inventory, state_files=[path], accounts=[OTHER]) == []
    assert inventory.unjudged == {fingerprint(MISSING.id, f"terraform:{path}#aws_instance.far")}


def test_missing_is_undecided_while_a_scan_of_the_type_in_the_account_failed(state: str) -> None:
    # A second source scanning the same account and region failed: i-0002 may be there.
    failed = scope_state("server", source="aws-second", status="failed", last_complete=None)
    scopes = [scope_state("server"), failed, scope_state("disk"), scope_state("database")]
    inventory = view(server("i-0001"), disk("vol-root"), database("db-1"), scopes=scopes)
    assert evaluate(MISSING, inventory, state_files=[state]) == []
    assert inventory.unjudged == {fingerprint(MISSING.id, f"terraform:{state}#aws_instance.web")}


def test_missing_judges_in_the_arn_region_only(tmp_path: Path) -> None:
    path = write_state(tmp_path, block("aws_instance", "eu", ec2("i-eu", region="eu-west-1")))
    # us-east-1 is complete, eu-west-1 failed: the instance may be there unseen.
    scopes = [
        scope_state("server"),
        scope_state("server", region="eu-west-1", status="failed", last_complete=None),
    ]
    assert evaluate(MISSING, view(scopes=scopes), state_files=[path]) == []
    scopes[1] = scope_state("server", region="eu-west-1")
    scopes[0] = scope_state("server", status="failed", last_complete=None)
    assert one(evaluate(MISSING, view(scopes=scopes), state_files=[path])).region == "eu-west-1"


def test_a_scan_failed_within_the_staleness_window_is_still_known(state: str) -> None:
    recent = replace(
        scope_state("server", status="failed"), last_complete=NOW - timedelta(minutes=20)
    )
    inventory = view(server("i-0001"), scopes=[recent], collect_every=timedelta(minutes=15))
    found = one(evaluate(MISSING, inventory, state_files=[state], types=["server"]))
    assert found.native_id == "i-0002"


def test_missing_in_a_source_no_longer_configured_is_undecided(state: str) -> None:
    inventory = view(server("i-0001"), sources=frozenset({"someone-else"}))
    assert evaluate(MISSING, inventory, state_files=[state], types=["server"]) == []


def test_a_declared_resource_without_an_account_is_undecided(tmp_path: Path) -> None:
    # Two accounts in one state and a bucket whose ARN names none: which one is unknown.
    path = write_state(
        tmp_path,
        block("aws_instance", "a", ec2("i-a")),
        block("aws_instance", "b", ec2("i-b", account=OTHER)),
        block("aws_s3_bucket", "logs", instance(bucket="logs", arn="arn:aws:s3:::logs")),
    )
    inventory = view(server("i-a"), scopes=[scope_state("server"), scope_state("bucket")])
    assert evaluate(MISSING, inventory, state_files=[path]) == []
    assert fingerprint(MISSING.id, f"terraform:{path}#aws_s3_bucket.logs") in inventory.unjudged


# -- input -----------------------------------------------------------------------------------


def test_malformed_state_is_an_input_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tfstate"
    path.write_text('{\n  "version": 4,\n  "resources": [\n    {"type": }\n  ]\n}\n')
    with pytest.raises(InputError) as caught:
        evaluate(UNMANAGED, view(server()), state_files=[str(path)])
    assert caught.value.path == str(path)
    assert caught.value.line == 4
    assert f"{path}:4" in caught.value.message


def test_glob_matching_nothing_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no Terraform state file matches"):
        evaluate(MISSING, view(), state_files=[str(tmp_path / "*.tfstate")])


def test_globs_expand_to_every_state(tmp_path: Path) -> None:
    write_state(tmp_path, block("aws_instance", "a", ec2("i-a")), name="stacks/a.tfstate")
    write_state(tmp_path, block("aws_instance", "b", ec2("i-b")), name="stacks/b.tfstate")
    pattern = str(tmp_path / "stacks" / "*.tfstate")
    assert evaluate(UNMANAGED, view(server("i-a"), server("i-b")), state_files=[pattern]) == []
    assert one(evaluate(MISSING, view(server("i-a")), state_files=[pattern])).native_id == "i-b"


def test_remote_state_not_fetched_is_an_input_error() -> None:
    with pytest.raises(InputError, match="remote Terraform state was not fetched") as caught:
        evaluate(MISSING, view(), state_files=["s3://acme-tfstate/prod.tfstate"])
    assert caught.value.path == "s3://acme-tfstate/prod.tfstate"


def test_both_rules_check_their_state_files_before_any_evaluation(tmp_path: Path) -> None:
    params = Unmanaged.params_model.model_validate({"state_files": [str(tmp_path / "gone")]})
    for rule in (Unmanaged(), Missing()):
        with pytest.raises(InputError, match="Terraform state not found"):
            rule.check_inputs(params)
