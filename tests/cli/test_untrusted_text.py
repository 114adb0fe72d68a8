"""A resource's name and tags cannot drive the terminal or reorder what the operator reads."""

from __future__ import annotations

import json

import pytest

from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.fixtures.cli import VigilCli

HOSTILE_NAME = "web-1\x1b]0;owned\x07\x1b[2J"
HOSTILE_TAG = "invoice\u202efdp.exe"


@pytest.fixture
def hostile(vigil_cli: VigilCli) -> VigilCli:
    db = Database(f"sqlite:///{vigil_cli.database_path}")
    scan(
        Reconciler(db), scope(), [[resource("i-1", name=HOSTILE_NAME, tags={"file": HOSTILE_TAG})]]
    )
    db.dispose()
    return vigil_cli


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_table_and_csv_show_escapes_not_controls(hostile: VigilCli, fmt: str) -> None:
    result = hostile("inventory", "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "web-1\\u001b]0;owned\\u0007" in result.stdout
    assert "invoice\\u202efdp.exe" in result.stdout


def test_json_keeps_the_exact_value_escaped_by_json(hostile: VigilCli) -> None:
    result = hostile("inventory", "--format", "json")
    assert "\x1b" not in result.stdout
    (row,) = json.loads(result.stdout)
    assert row["name"] == HOSTILE_NAME  # stored and exported exactly as the API said
    assert row["tags"] == {"file": HOSTILE_TAG}
