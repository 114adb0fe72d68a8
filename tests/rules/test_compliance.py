"""The compliance catalog: versioned frameworks, their controls' titles, and the old ids.

Every control a built-in rule maps to must exist in the catalog for that framework's
version, so a report never shows an auditor a control the framework does not have.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import compliance
from rules.base import Rule
from rules.packs import load_pack
from rules.registry import builtin_rules
from tests.fixtures.cli import VigilCli
from vigil.core.errors import InputError

VERSIONED = {"cis-aws-3.0", "pci-dss-4.0", "iso27001-2022", "soc2-2017", "gdpr", "hipaa"}
OLD_IDS = {
    "cis-aws": "cis-aws-3.0",
    "soc2": "soc2-2017",
    "pci-dss": "pci-dss-4.0",
    "iso27001": "iso27001-2022",
}
PACK = """\
rules:
  - id: acme.unencrypted-disk
    title: Unencrypted disk
    severity: high
    resource_types: [disk]
    where: {attribute: encrypted, equals: false}
    remediation: Copy a snapshot with encryption and restore it.
    compliance:
      iso27001: [A.8.24]
      cis-aws-3.0: ["2.2.1", "2.3.1"]
"""


@pytest.mark.parametrize("rule", builtin_rules(), ids=lambda r: r.id)
def test_every_control_a_builtin_rule_maps_to_is_in_its_framework_version(rule: Rule) -> None:
    for framework, controls in rule.compliance.items():
        assert framework in VERSIONED, f"{rule.id}: {framework!r} is not a versioned id"
        unknown = compliance.unknown_controls(framework, controls)
        assert not unknown, f"{rule.id}: {unknown} are not controls of {framework}"


def test_the_catalog_names_every_framework_its_source_and_each_control_title() -> None:
    assert set(compliance.CATALOG) == set(compliance.FRAMEWORKS) == VERSIONED
    for framework in compliance.CATALOG.values():
        assert framework.name and framework.source
        assert all(framework.controls.values()), f"{framework.id}: a control has no title"
    assert compliance.control_title("cis-aws-3.0", "5.2") == (
        "Ensure no security groups allow ingress from 0.0.0.0/0 to remote server "
        "administration ports"
    )
    assert compliance.control_title("hipaa", "164.312(e)(1)") == "Transmission security"
    # CIS 4.10 is a CloudWatch alarm control: no rule checks it, so it is not in the catalog.
    assert compliance.control_title("cis-aws-3.0", "4.10") == ""


def test_the_new_frameworks_are_mapped_by_encryption_backup_and_exposure_rules() -> None:
    mapped = {r.id: r.compliance for r in builtin_rules()}
    exposure_encryption_backup = (
        "backup.missing",
        "backup.stale",
        "network.open_port",
        "cert.invalid",
        "encryption.at_rest",
        "encryption.in_transit",
        "exposure.public",
    )
    for rule_id in exposure_encryption_backup:
        assert mapped[rule_id].get("gdpr") and mapped[rule_id].get("hipaa"), rule_id
    assert "cis-aws-3.0" not in mapped["drift.changed"]


@pytest.mark.parametrize(("old", "versioned"), sorted(OLD_IDS.items()))
def test_old_unversioned_ids_resolve_to_their_version(old: str, versioned: str) -> None:
    assert compliance.resolve(old) == versioned
    assert compliance.resolve(versioned) == versioned
    assert compliance.ALIASES[old] == versioned


def test_an_unknown_framework_is_refused_naming_what_to_use() -> None:
    with pytest.raises(ValueError, match="unknown framework 'nist'") as caught:
        compliance.resolve("nist")
    assert "cis-aws-3.0" in str(caught.value) and "cis-aws," in str(caught.value)


def test_normalize_merges_an_old_id_into_its_version() -> None:
    merged = compliance.normalize({"cis-aws": ["5.2"], "cis-aws-3.0": ["5.2", "5.3"]})
    assert merged == {"cis-aws-3.0": ("5.2", "5.3")}


def test_a_catalog_giving_one_alias_to_two_frameworks_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    entry = "    name: N\n    source: S\n    aliases: [old]\n    controls: {'1': T}\n"
    path.write_text(f"frameworks:\n  a-1:\n{entry}  a-2:\n{entry}")
    with pytest.raises(RuntimeError, match="'old' is used twice"):
        compliance.load_catalog(path)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pack.yaml"
    path.write_text(text)
    return str(path)


def test_a_pack_may_use_old_ids_and_gets_the_versioned_ones(tmp_path: Path) -> None:
    (rule,) = load_pack(write(tmp_path, PACK))
    assert rule.compliance == {"iso27001-2022": ("A.8.24",), "cis-aws-3.0": ("2.2.1", "2.3.1")}


@pytest.mark.parametrize(
    ("broken", "line", "message"),
    [
        (PACK.replace("iso27001:", "nist-800-53:"), 9, "unknown framework 'nist-800-53'"),
        (PACK.replace('"2.3.1"', '"4.10"'), 10, "'4.10' is not a control of cis-aws-3.0"),
        (PACK.replace("[A.8.24]", "[A.12.3.1]"), 9, "'A.12.3.1' is not a control of iso27001"),
    ],
)
def test_a_pack_naming_an_unknown_framework_or_control_is_refused_with_its_line(
    tmp_path: Path, broken: str, line: int, message: str
) -> None:
    path = write(tmp_path, broken)
    with pytest.raises(InputError, match=message) as caught:
        load_pack(path)
    assert caught.value.path == path
    assert caught.value.line == line
    assert "rules[0].compliance" in caught.value.message


def test_vigil_check_exits_2_on_a_pack_with_an_unknown_control(vigil_cli: VigilCli) -> None:
    (vigil_cli.cwd / "pack.yaml").write_text(PACK.replace('"2.3.1"', '"4.10"'))
    (vigil_cli.cwd / "vigil.yaml").write_text("rules:\n  packs: [pack.yaml]\n")
    result = vigil_cli("check")
    assert result.returncode == 2, result.stderr
    assert "pack.yaml:10" in result.stderr and "'4.10'" in result.stderr
    assert not vigil_cli.database_path.exists()
