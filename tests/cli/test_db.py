"""`vigil db backup` and `vigil db check` as an operator runs them."""

from __future__ import annotations

import json

from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resources, scope
from tests.factories.storage import scan
from tests.fixtures.cli import VigilCli


def seed(cli: VigilCli, count: int) -> None:
    db = Database(f"sqlite:///{cli.database_path}")
    scan(Reconciler(db), scope(), [resources(count)])
    db.dispose()


def inventory_json(cli: VigilCli, database: str | None = None) -> list[dict[str, object]]:
    env = {"VIGIL_DATABASE_URL": f"sqlite:///{database}"} if database else None
    result = cli("inventory", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_a_restored_backup_shows_the_same_inventory(vigil_cli: VigilCli) -> None:
    seed(vigil_cli, 30)
    result = vigil_cli("db", "backup", "nightly.db")

    assert result.returncode == 0, result.stderr
    assert "backed up to nightly.db" in result.stdout
    backup = vigil_cli.cwd / "nightly.db"
    assert inventory_json(vigil_cli, str(backup)) == inventory_json(vigil_cli)
    assert len(inventory_json(vigil_cli, str(backup))) == 30


def test_backup_never_overwrites_without_force(vigil_cli: VigilCli) -> None:
    seed(vigil_cli, 3)
    (vigil_cli.cwd / "nightly.db").write_text("keep me")

    refused = vigil_cli("db", "backup", "nightly.db")
    assert refused.returncode == 2
    assert "nightly.db already exists" in refused.stderr
    assert "--force" in refused.stderr
    assert (vigil_cli.cwd / "nightly.db").read_text() == "keep me"

    assert vigil_cli("db", "backup", "nightly.db", "--force").returncode == 0
    assert len(inventory_json(vigil_cli, str(vigil_cli.cwd / "nightly.db"))) == 3


def test_check_prints_the_schema_and_rows_and_exits_0(vigil_cli: VigilCli) -> None:
    seed(vigil_cli, 4)
    table = vigil_cli("db", "check")
    assert table.returncode == 0, table.stderr
    assert "schema     current" in table.stdout
    assert "integrity  ok" in table.stdout

    report = json.loads(vigil_cli("db", "check", "--format", "json").stdout)
    assert report["healthy"] is True
    assert report["rows"]["resources"] == 4
    assert report["revision"] == report["head"]


def test_check_of_a_database_that_is_not_there_exits_2_and_creates_nothing(
    vigil_cli: VigilCli,
) -> None:
    result = vigil_cli("db", "check")
    assert result.returncode == 2
    assert "no database at" in result.stderr
    assert not vigil_cli.database_path.exists()
