"""drift.unmanaged and drift.missing against Terraform state files (format v4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rules.terraform import Missing, Unmanaged, parse_state
from tests.factories.rules import (
    database,
    disk,
    evaluate,
    scope_state,
    security_group,
    server,
    view,
)
from vigil.core.errors import InputError
from vigil.core.model import Severity

UNMANAGED = Unmanaged()
MISSING = Missing()


def block(
    tf_type: str, name: str, *instances: dict[str, Any], module: str | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "mode": "managed",
        "type": tf_type,
        "name": name,
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


def write_state(tmp_path: Path, *resources: dict[str, Any], name: str = "terraform.tfstate") -> str:
    path = tmp_path / name
    path.write_text(
        json.dumps({"version": 4, "terraform_version": "1.6.0", "resources": list(resources)})
    )
    return str(path)


@pytest.fixture
def state(tmp_path: Path) -> str:
    return write_state(
        tmp_path,
        block(
            "aws_instance",
            "web",
            instance(0, id="i-0001", root_block_device=[{"volume_id": "vol-root"}]),
            instance(1, id="i-0002"),
        ),
        block(
            "aws_security_group",
            "app",
            instance("blue", id="sg-blue"),
            instance("green", id="sg-green"),
            module="module.app",
        ),
        block("aws_db_instance", "main", instance(identifier="db-1", id="db-ABCDEF")),
        {"mode": "data", "type": "aws_ami", "name": "ubuntu", "instances": [instance(id="ami-1")]},
    )


def test_module_and_count_and_for_each_addresses(state: str) -> None:
    declared = {d.address: d.native_id for d in parse_state(state)}
    assert declared == {
        "aws_instance.web[0]": "i-0001",
        "aws_instance.web[0].root_block_device[0]": "vol-root",
        "aws_instance.web[1]": "i-0002",
        'module.app.aws_security_group.app["blue"]': "sg-blue",
        'module.app.aws_security_group.app["green"]': "sg-green",
        "aws_db_instance.main": "db-1",
    }


def test_live_resource_not_in_state_is_unmanaged_and_low(state: str) -> None:
    inventory = view(
        server("i-0001"),
        server("i-0002"),
        server("i-hand-made"),
        disk("vol-root"),
        database("db-1"),
    )
    found = evaluate(UNMANAGED, inventory, state_files=[state])
    assert [f.native_id for f in found] == ["i-hand-made"]
    assert found[0].severity is Severity.LOW
    assert found[0].title == "server i-hand-made is not in any Terraform state"


def test_default_security_group_is_not_unmanaged(state: str) -> None:
    inventory = view(
        security_group("sg-default", name="default"),
        security_group("sg-blue"),
        security_group("sg-green"),
    )
    assert evaluate(UNMANAGED, inventory, state_files=[state]) == []


def test_without_state_files_nothing_is_judged() -> None:
    assert evaluate(UNMANAGED, view(server("i-x"))) == evaluate(MISSING, view()) == []


def test_declared_but_not_live_is_missing_and_high(state: str) -> None:
    inventory = view(
        server("i-0001"),
        security_group("sg-blue"),
        security_group("sg-green"),
        database("db-1"),
        disk("vol-root"),
    )
    found = one_missing(evaluate(MISSING, inventory, state_files=[state]))
    assert found.severity is Severity.HIGH
    assert (
        found.title == "server i-0002 (aws_instance.web[1]) is declared in Terraform but not live"
    )
    assert found.resource_uid.endswith("#aws_instance.web[1]")


def one_missing(found: list) -> Any:
    assert len(found) == 1, [f.title for f in found]
    return found[0]


def test_missing_is_not_judged_for_types_whose_scopes_failed(state: str) -> None:
    scopes = [
        scope_state("server", status="failed"),
        scope_state("security_group"),
        scope_state("database"),
        scope_state("disk"),
    ]
    inventory = view(
        security_group("sg-blue"),
        security_group("sg-green"),
        database("db-1"),
        disk("vol-root"),
        scopes=scopes,
    )
    assert evaluate(MISSING, inventory, state_files=[state]) == []


def test_globs_expand_to_every_state(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    write_state(tmp_path, block("aws_instance", "a", instance(id="i-a")), name="stacks/a.tfstate")
    write_state(tmp_path, block("aws_instance", "b", instance(id="i-b")), name="stacks/b.tfstate")
    inventory = view(server("i-a"), server("i-b"))
    assert (
        evaluate(UNMANAGED, inventory, state_files=[str(tmp_path / "stacks" / "*.tfstate")]) == []
    )


def test_malformed_state_is_an_input_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tfstate"
    path.write_text('{\n  "version": 4,\n  "resources": [\n    {"type": }\n  ]\n}\n')
    with pytest.raises(InputError) as caught:
        evaluate(UNMANAGED, view(server()), state_files=[str(path)])
    assert caught.value.path == str(path)
    assert caught.value.line == 4
    assert f"{path}:4" in caught.value.message


def test_state_of_another_version_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "old.tfstate"
    path.write_text(json.dumps({"version": 3, "modules": []}))
    with pytest.raises(InputError, match="version 4"):
        parse_state(str(path))


def test_glob_matching_nothing_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no Terraform state file matches"):
        evaluate(MISSING, view(), state_files=[str(tmp_path / "*.tfstate")])


@pytest.mark.parametrize("instance", ['"i-1"', '{"attributes": ["id", "i-1"]}'])
def test_malformed_instance_is_an_input_error_not_a_crash(tmp_path: Path, instance: str) -> None:
    path = tmp_path / "odd.tfstate"
    path.write_text(
        '{"version": 4, "resources": [{"type": "aws_instance", "name": "web", '
        f'"instances": [{instance}]}}]}}'
    )
    with pytest.raises(InputError, match="instance 0 of aws_instance.web") as caught:
        parse_state(str(path))
    assert str(path) in caught.value.message


def test_both_rules_check_their_state_files_before_any_evaluation(tmp_path: Path) -> None:
    params = Unmanaged.params_model.model_validate({"state_files": [str(tmp_path / "gone")]})
    for rule in (Unmanaged(), Missing()):
        with pytest.raises(InputError, match="cannot read the Terraform state"):
            rule.check_inputs(params)
