"""Fuzzing the config and rule-pack loaders: whatever the file holds, the outcome is a valid
config or a clean error naming the file (exit 2 from the CLI), never another exception."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.packs import load_packs
from tests.fixtures.cli import VigilCli
from vigil.app.config import VigilConfig, load_config
from vigil.core.errors import InputError

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID_CONFIG: dict[str, Any] = {
    "database_url": "sqlite:///fuzz.db",
    "sources": [
        {
            "name": "aws-prod",
            "provider": "aws",
            "regions": ["us-east-1", "eu-west-1"],
            "role_arn": "arn:aws:iam::123456789012:role/VigilReadOnly",
            "external_id": "${FUZZ_SECRET}",
            "types": ["server", "disk"],
        },
        {"name": "edge", "provider": "probe", "tls": ["api.example.com:443"]},
        {
            "name": "colo",
            "provider": "hosts",
            "ssh": {"user": "vigil", "key_file": "/etc/vigil/id", "known_hosts": "/etc/kh"},
            "targets": [{"host": "10.0.0.5", "port": 22, "name": "db-1"}],
        },
    ],
    "rules": {
        "disable": ["drift.changed"],
        "severity": {"backup.stale": "high"},
        "params": {"cert.expiring": {"warn_days": 30, "critical_days": 7}},
    },
    "notifiers": [
        {"name": "hook", "type": "webhook", "url": "https://hooks.example.com/x"},
        {"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:9093"},
    ],
    "routes": [
        {"match": {"severity": ["critical", "high"], "type": "server"}, "notifiers": ["hook"]},
        {"notifiers": ["am"], "repeat_interval": "1h"},
    ],
    "schedule": {"collect_every": "15m", "sources": {"edge": "*/10 * * * 1-5"}},
    "metrics": {"listen": "127.0.0.1:9464", "cache_seconds": "60s"},
    "reports": {"organization": "Example Corp"},
}

VALID_PACK: dict[str, Any] = {
    "rules": [
        {
            "id": "acme.unencrypted-disk",
            "title": "Unencrypted disk",
            "message": "disk {name} is not encrypted",
            "severity": "high",
            "resource_types": ["disk"],
            "where": {"all": [{"attribute": "encrypted", "equals": False}]},
            "remediation": "Copy a snapshot with encryption and restore it.",
            "compliance": {"cis-aws": ["2.2.1"]},
        }
    ]
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["all", "${FUZZ_SECRET}", "${UNSET_FUZZ_VAR}", "15m", "*/5 * * * 7", ""])
)
keys = st.text(max_size=12) | st.sampled_from(["name", "provider", "type", "rules", "where", "id"])
trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_SECRET", "fuzz-secret-value")
    monkeypatch.delenv("UNSET_FUZZ_VAR", raising=False)


def _paths(tree: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every location inside a tree of dicts and lists (the root excluded)."""
    if not isinstance(tree, dict | list):
        return
    for key, value in tree.items() if isinstance(tree, dict) else enumerate(tree):
        yield (*here, key)
        yield from _paths(value, (*here, key))


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """A valid document with one to three locations replaced, deleted, or renamed."""
    document = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 3))):
        locations = list(_paths(document))
        if not locations:
            break
        *parent_loc, last = draw(st.sampled_from(locations))
        parent = document
        for part in parent_loc:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "rename"]))
        if action == "replace":
            parent[last] = draw(trees)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(keys)] = parent.pop(last)
    return document


def _load_config(path: Path) -> VigilConfig | None:
    try:
        return load_config(path)
    except InputError as exc:  # ConfigError is an InputError
        assert str(path) in exc.message, exc.message
        assert exc.exit_code == 2
        return None


def _load_pack(path: Path) -> None:
    try:
        load_packs([str(path)])
    except InputError as exc:
        assert str(path) in exc.message, exc.message


def _dump(tree: Any) -> str:
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)


def test_the_valid_examples_load(tmp_path: Path) -> None:
    """The fuzzers start from documents that are themselves valid."""
    (config_path := tmp_path / "vigil.yaml").write_text(_dump(VALID_CONFIG))
    assert _load_config(config_path) is not None
    (pack_path := tmp_path / "pack.yaml").write_text(_dump(VALID_PACK))
    assert [rule.id for rule in load_packs([str(pack_path)])] == ["acme.unencrypted-disk"]


@FUZZ
@given(content=st.binary(max_size=300))
def test_config_loader_on_arbitrary_bytes(tmp_path: Path, content: bytes) -> None:
    (path := tmp_path / "vigil.yaml").write_bytes(content)
    _load_config(path)


@FUZZ
@given(tree=trees)
def test_config_loader_on_arbitrary_yaml_trees(tmp_path: Path, tree: Any) -> None:
    (path := tmp_path / "vigil.yaml").write_text(_dump(tree))
    _load_config(path)


@FUZZ
@given(document=mutated(VALID_CONFIG))
def test_config_loader_on_mutations_of_a_valid_config(tmp_path: Path, document: Any) -> None:
    (path := tmp_path / "vigil.yaml").write_text(_dump(document))
    _load_config(path)


@FUZZ
@given(content=st.binary(max_size=300))
def test_pack_loader_on_arbitrary_bytes(tmp_path: Path, content: bytes) -> None:
    (path := tmp_path / "pack.yaml").write_bytes(content)
    _load_pack(path)


@FUZZ
@given(tree=trees)
def test_pack_loader_on_arbitrary_yaml_trees(tmp_path: Path, tree: Any) -> None:
    (path := tmp_path / "pack.yaml").write_text(_dump(tree))
    _load_pack(path)


@FUZZ
@given(document=mutated(VALID_PACK))
def test_pack_loader_on_mutations_of_a_valid_pack(tmp_path: Path, document: Any) -> None:
    (path := tmp_path / "pack.yaml").write_text(_dump(document))
    _load_pack(path)


@FUZZ
@given(document=mutated(VALID_PACK))
def test_a_mutated_pack_named_by_the_config_fails_cleanly(tmp_path: Path, document: Any) -> None:
    (pack := tmp_path / "pack.yaml").write_text(_dump(document))
    (path := tmp_path / "vigil.yaml").write_text(_dump({"rules": {"packs": [str(pack)]}}))
    _load_config(path)


BAD_FILES = {
    "binary config": ("vigil.yaml", b"sources: []\n\x00\xff\xfe"),
    "mutated config": ("vigil.yaml", b"sources:\n  - {name: a, provider: aws, types: 5}\n"),
    "bad pack": ("pack.yaml", b"rules:\n  - id: acme.x\n    severity: apocalyptic\n"),
}


@pytest.mark.parametrize("command", ["check", "collect"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_exit_2_and_leave_the_database_alone(
    vigil_cli: VigilCli, command: str, case: str
) -> None:
    name, content = BAD_FILES[case]
    (vigil_cli.cwd / name).write_bytes(content)
    if name != "vigil.yaml":
        (vigil_cli.cwd / "vigil.yaml").write_text(
            "sources:\n  - {name: edge, provider: probe, tls: ['127.0.0.1:9']}\n"
            "rules:\n  packs: [pack.yaml]\n"
        )
    result = vigil_cli(command)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert name in result.stderr
    assert not vigil_cli.database_path.exists()


def test_a_bad_config_leaves_an_existing_database_unchanged(vigil_cli: VigilCli) -> None:
    assert vigil_cli("inventory").returncode == 0  # no config yet: creates the database
    before = vigil_cli.database_path.read_bytes()
    (vigil_cli.cwd / "vigil.yaml").write_bytes(b"routes:\n  - match: {severity: [apocalyptic]}\n")
    for command in ("check", "collect"):
        result = vigil_cli(command)
        assert result.returncode == 2, result.stderr
        assert "line 2: routes[0].match" in result.stderr and "Traceback" not in result.stderr
    assert vigil_cli.database_path.read_bytes() == before
