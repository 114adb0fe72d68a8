"""`vigil config schema|validate` and the schema `vigil init` writes for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.app.test_config import BAD_CONFIGS
from tests.fixtures.cli import VigilCli
from vigil.app.config_check import config_schema, validate

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = [
    "vigil/templates/vigil.example.yaml",
    "deploy/vigil.yaml",
    "deploy/kubernetes/base/vigil.yaml",
    "deploy/kubernetes/overlays/example/vigil.yaml",
]
SCHEMA_CATCHES = {
    # The bad configs whose mistake is one of shape (a key, a type, a range, an enum), which
    # an editor flags while typing. The rest need the semantic checks at load: YAML errors,
    # environment, secrets, duplicates, cross-references, rule ids and params, dates.
    "unknown top-level key",
    "unknown source key",
    "wrong type",
    "missing required key",
    "unknown provider",
    "out of range",
    "api rate key",
    "api rate zero",
    "unknown source type",
    "bad duration",
    "not a mapping",
    "sources not a list",
    "unknown starttls",
    "unknown severity override",
}


def schema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(config_schema())
    return [error.message for error in validator.iter_errors(document)]


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(config_schema())


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_config_in_the_repository_passes_the_schema(example: str) -> None:
    document = yaml.safe_load((REPO / example).read_text(encoding="utf-8"))
    assert schema_errors(document) == []


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_each_bad_config_fails_the_schema_or_the_semantic_checks(case: str) -> None:
    text = BAD_CONFIGS[case][0]
    try:
        document = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):
        document = None  # not YAML at all: only the loader can say where
    caught_by_schema = document is not None and bool(schema_errors(document))
    assert caught_by_schema == (case in SCHEMA_CATCHES), case


def test_schema_command_prints_what_init_writes(vigil_cli: VigilCli) -> None:
    printed = vigil_cli("config", "schema")
    assert printed.returncode == 0
    assert vigil_cli("init").returncode == 0
    written = (vigil_cli.cwd / "vigil.schema.json").read_text(encoding="utf-8")
    assert json.loads(printed.stdout) == json.loads(written)
    first = (vigil_cli.cwd / "vigil.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./vigil.schema.json"


def test_the_schema_describes_durations_as_written(vigil_cli: VigilCli) -> None:
    document = {"schedule": {"collect_every": "15m"}, "routes": []}
    assert schema_errors(document) == []
    assert schema_errors({"schedule": {"collect_every": 900}}) == []
    assert schema_errors({"schedule": {"collect_every": "soon"}}) != []


def write_config(root: Path, body: str) -> Path:
    (root / "vigil.yaml").write_text(body, encoding="utf-8")
    return root / "vigil.yaml"


def test_validate_reads_the_files_the_config_names(vigil_cli: VigilCli) -> None:
    root = vigil_cli.cwd
    (root / "infra.tfstate").write_text(json.dumps({"version": 4, "resources": []}))
    (root / "hosts.ini").write_text("[web]\nweb-1 ansible_host=10.0.0.5\n")
    write_config(
        root,
        "sources:\n  - name: colo\n    provider: hosts\n    ansible_inventory: hosts.ini\n"
        "    ssh: {user: vigil, key_file: /etc/vigil/id, known_hosts: /etc/vigil/kh}\n"
        "rules:\n  params:\n    drift.missing: {state_files: [infra.tfstate]}\n",
    )
    result = vigil_cli("config", "validate")
    assert result.returncode == 0, result.stderr
    assert "ok       Terraform state infra.tfstate" in result.stdout
    assert "ok       Ansible inventory hosts.ini (1 hosts)" in result.stdout
    assert not vigil_cli.database_path.exists()


def test_validate_reports_every_broken_file_and_exits_2(vigil_cli: VigilCli) -> None:
    root = vigil_cli.cwd
    (root / "infra.tfstate").write_text('{"version": 4, "resources": [}')
    (root / "hosts.ini").write_text("[web\nweb-1\n")
    path = write_config(
        root,
        "sources:\n  - name: colo\n    provider: hosts\n    ansible_inventory: hosts.ini\n"
        "    ssh: {user: vigil, key_file: /etc/vigil/id, known_hosts: /etc/vigil/kh}\n"
        "rules:\n  params:\n    drift.missing: {state_files: [infra.tfstate]}\n",
    )
    result = vigil_cli("config", "validate", str(path))
    assert result.returncode == 2
    assert "infra.tfstate:1" in result.stderr
    assert "hosts.ini:1" in result.stderr
    assert "2 problems" in result.stderr
    assert not vigil_cli.database_path.exists()


def test_validate_names_a_config_problem_with_its_line(vigil_cli: VigilCli) -> None:
    write_config(vigil_cli.cwd, "sources:\n  - name: a\n    provider: aws\n    regoins: [x]\n")
    result = vigil_cli("config", "validate")
    assert result.returncode == 2
    assert "vigil.yaml:4" in result.stderr and "regoins: unknown key" in result.stderr


def test_remote_states_are_left_to_check(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, "rules:\n  params:\n    drift.missing: {state_files: ['s3://b/k.tfstate']}\n"
    )
    result = validate(path)
    assert result.ok and result.skipped == [
        "Terraform state s3://b/k.tfstate (read by `vigil check`)"
    ]
