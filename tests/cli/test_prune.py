"""`vigil prune` and the --as-of limit, as an operator meets them."""

from __future__ import annotations

from datetime import timedelta

from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories import resource, scope
from tests.factories.storage import scan
from tests.fixtures.cli import VigilCli
from vigil.core.model import utcnow


def old_history(cli: VigilCli) -> None:
    """A server seen 500 days ago, changed 450 days ago and seen again today."""
    db = Database(f"sqlite:///{cli.database_path}")
    clock_at = [utcnow() - timedelta(days=500)]
    reconciler = Reconciler(db, clock=lambda: clock_at[0])
    for age, size in ((500, "small"), (450, "large"), (0, "large")):
        clock_at[0] = utcnow() - timedelta(days=age)
        scan(reconciler, scope(), [[resource("i-1", size=size)]])
    db.dispose()


def test_dry_run_lists_each_kind_and_deletes_nothing(vigil_cli: VigilCli) -> None:
    old_history(vigil_cli)

    result = vigil_cli("prune", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "changes                     1 rows would delete" in result.stdout
    assert "scope_runs                  2 rows would delete (older than 30d" in result.stdout
    assert "3 rows would delete" in result.stdout.splitlines()[-1]
    changes = vigil_cli("changes", "--since", "600d", "--format", "json")
    assert changes.stdout.count('"kind"') == 2


def test_prune_honours_the_configured_windows(vigil_cli: VigilCli) -> None:
    old_history(vigil_cli)
    (vigil_cli.cwd / "vigil.yaml").write_text("retention:\n  changes: 30d\n")

    result = vigil_cli("prune")

    assert result.returncode == 0, result.stderr
    assert "deleted (older than 30d" in result.stdout
    changes = vigil_cli("changes", "--since", "600d", "--format", "json")
    assert changes.stdout.count('"kind"') == 1  # the checkpoint: the newest change before
    assert vigil_cli("inventory", "--as-of", "10d").returncode == 0


def test_as_of_before_the_window_exits_2_naming_the_limit(vigil_cli: VigilCli) -> None:
    old_history(vigil_cli)

    result = vigil_cli("inventory", "--as-of", "2020-01-01")

    assert result.returncode == 2
    assert "before the kept history, which starts at" in result.stderr
    assert "retention.changes is 400d" in result.stderr
    assert vigil_cli("inventory", "--as-of", "30d").returncode == 0


def test_a_bad_retention_window_is_a_config_error(vigil_cli: VigilCli) -> None:
    (vigil_cli.cwd / "vigil.yaml").write_text("retention:\n  changes: forever\n")
    result = vigil_cli("prune")
    assert result.returncode == 2
    assert "vigil.yaml" in result.stderr
    assert "line 2" in result.stderr
    assert not vigil_cli.database_path.exists()
