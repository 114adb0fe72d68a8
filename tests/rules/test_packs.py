"""YAML rule packs and their condition language."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.conditions import ConditionError, compile_condition
from rules.packs import load_pack, load_packs
from tests.factories.rules import disk, evaluate, server, view
from vigil.core.errors import InputError
from vigil.core.model import Severity

PACK = """\
rules:
  - id: acme.unencrypted-disk
    title: Unencrypted disk
    message: "disk {name} in {region} is not encrypted"
    severity: high
    resource_types: [disk]
    where:
      all:
        - {attribute: encrypted, equals: false}
        - not: {tag: backup, in: [exempt]}
    remediation: Copy a snapshot with encryption and restore it.
    compliance: {cis-aws: ["2.2.1"]}
"""


def write(tmp_path: Path, text: str, name: str = "pack.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_pack_rule_finds_what_its_condition_says(tmp_path: Path) -> None:
    (rule,) = load_pack(write(tmp_path, PACK))
    inventory = view(
        disk("vol-plain", encrypted=False),
        disk("vol-ok", encrypted=True),
        disk("vol-exempt", encrypted=False, tags={"backup": "exempt"}),
    )
    found = evaluate(rule, inventory)
    assert [f.native_id for f in found] == ["vol-plain"]
    assert found[0].title == "disk vol-plain in us-east-1 is not encrypted"
    assert found[0].severity is Severity.HIGH
    assert rule.compliance == {"cis-aws": ("2.2.1",)}


def test_a_directory_loads_every_yaml_file(tmp_path: Path) -> None:
    write(tmp_path, PACK, "a.yaml")
    write(tmp_path, PACK.replace("acme.unencrypted-disk", "acme.other"), "b.yml")
    write(tmp_path, "not a pack", "notes.txt")
    assert [r.id for r in load_packs([str(tmp_path)])] == ["acme.unencrypted-disk", "acme.other"]


def test_pack_cannot_reuse_a_builtin_id(tmp_path: Path) -> None:
    path = write(tmp_path, PACK.replace("acme.unencrypted-disk", "cert.expired"))
    with pytest.raises(InputError, match="already taken"):
        load_packs([path], reserved={"cert.expired"})


@pytest.mark.parametrize(
    ("broken", "line", "key"),
    [
        (PACK.replace("severity: high", "severity: urgent"), 5, "rules[0].severity"),
        (PACK.replace("    remediation:", "    remedy:"), 11, "rules[0].remedy"),
        (
            PACK.replace(
                "{attribute: encrypted, equals: false}", "{attribute: encrypted, like: x}"
            ),
            9,
            "rules[0].where.all[0].like",
        ),
        (PACK.replace("in: [exempt]", "regex: '['"), 10, "rules[0].where.all[1].not.regex"),
        (
            PACK.replace("resource_types: [disk]", "resource_types: [vm]"),
            6,
            "rules[0].resource_types",
        ),
    ],
)
def test_invalid_pack_names_file_line_and_key(
    tmp_path: Path, broken: str, line: int, key: str
) -> None:
    path = write(tmp_path, broken)
    with pytest.raises(InputError) as caught:
        load_pack(path)
    assert caught.value.path == path
    assert caught.value.line == line
    assert key in caught.value.message


def test_missing_pack_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="rule pack not found"):
        load_packs([str(tmp_path / "nope.yaml")])


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"attribute": "size_gb", "gt": 50}, True),
        ({"attribute": "size_gb", "lt": 50}, False),
        ({"attribute": "volume_type", "in": ["gp2", "io1"]}, True),
        ({"attribute": "missing", "exists": False}, True),
        ({"attribute": "attached_to", "contains": "i-1"}, True),
        ({"field": "name", "regex": "^data-"}, True),
        ({"tag": "env", "equals": "prod"}, True),
        (
            {"any": [{"tag": "env", "equals": "dev"}, {"attribute": "nested.depth", "equals": 2}]},
            True,
        ),
        ({"not": {"tag": "env", "exists": True}}, False),
        ({"attribute": "volume_type", "gt": 1}, False),
        ({"attribute": "encrypted", "equals": 1}, False),  # true is not 1
        ({"attribute": "iops", "equals": False}, False),  # 0 is not false
        ({"attribute": "iops", "in": [False]}, False),
        ({"attribute": "nested", "contains": ["depth"]}, False),  # no crash on a list
        ({"attribute": "nested", "contains": "depth"}, True),
    ],
)
def test_condition_operators(condition: dict, expected: bool) -> None:
    volume = disk(
        "vol-1",
        name="data-1",
        size_gb=100,
        volume_type="gp2",
        attached_to=["i-1"],
        nested={"depth": 2},
        encrypted=True,
        iops=0,
        tags={"env": "prod"},
    )
    assert compile_condition(condition)(volume) is expected


def test_condition_has_no_eval() -> None:
    with pytest.raises(ConditionError):
        compile_condition({"python": "__import__('os').system('true')"})
    with pytest.raises(ConditionError):
        compile_condition({"field": "__class__", "equals": 1})
    assert compile_condition({"tag": "x", "equals": "{name.__class__}"})(server()) is False


def test_a_large_pack_is_read_once_per_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Config load parses the packs; the engine, the catalog and the rule list reuse them."""
    from rules import packs as packs_module
    from vigil.app.check import prepare_engine
    from vigil.app.config import load_config
    from vigil.app.reports.controls import rule_catalog

    rule = PACK.split("\n", 1)[1]
    body = "".join(rule.replace("acme.unencrypted-disk", f"acme.disk-{i}") for i in range(1500))
    pack = write(tmp_path, "rules:\n" + body)
    assert Path(pack).stat().st_size > 500_000
    (config_path := tmp_path / "vigil.yaml").write_text(f"rules:\n  packs: [{pack}]\n")
    reads: list[str] = []
    original = packs_module.load_yaml

    def counting(path: str | Path) -> object:
        reads.append(str(path))
        return original(path)

    monkeypatch.setattr(packs_module, "load_yaml", counting)
    config = load_config(config_path)
    engine = prepare_engine(config)
    catalog = rule_catalog(config.rules)
    assert reads == [pack]
    assert "acme.disk-1499" in engine.rule_ids and "acme.disk-0" in catalog


@pytest.mark.timeout(20)
def test_a_catastrophic_regex_matches_in_linear_time() -> None:
    # (a+)+$ against "aaa...b" takes Python's backtracking engine 2^n steps; RE2 is linear.
    matches = compile_condition({"field": "name", "regex": "(a+)+$"})
    assert matches(server("i-1", name="a" * 100_000 + "b")) is False
    assert matches(server("i-2", name="a" * 100_000)) is True


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=db)", "(?<!x)y"])
def test_a_regex_needing_backtracking_is_refused_with_its_line(
    tmp_path: Path, pattern: str
) -> None:
    path = write(tmp_path, PACK.replace("in: [exempt]", f"regex: '{pattern}'"))
    with pytest.raises(InputError) as caught:
        load_pack(path)
    assert caught.value.line == 10
    assert "no backreferences or lookaround" in caught.value.message
