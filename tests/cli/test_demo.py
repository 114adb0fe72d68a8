"""`vigil demo` is sealed: it writes its own database, never the configured one."""

from __future__ import annotations

import json
import os

import pytest

from tests.fixtures.cli import VigilCli


@pytest.mark.slow
def test_demo_never_writes_the_configured_database(vigil_cli: VigilCli) -> None:
    configured = vigil_cli.cwd / "configured.db"
    from_env = vigil_cli.cwd / "from-env.db"
    (vigil_cli.cwd / "vigil.yaml").write_text(f"database_url: sqlite:///{configured}\n")
    result = vigil_cli(
        "demo",
        "--servers-per-region",
        "1",
        env={"VIGIL_DATABASE_URL": f"sqlite:///{from_env}"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (vigil_cli.cwd / "demo" / "vigil.db").exists()
    assert not configured.exists() and not from_env.exists()
    assert "demo/vigil.db" in result.stdout

    demo_url = f"sqlite:///{vigil_cli.cwd / 'demo' / 'vigil.db'}"
    listed = vigil_cli("inventory", "--format", "json", env={"VIGIL_DATABASE_URL": demo_url})
    assert listed.returncode == 0, listed.stderr
    assert {r["source"] for r in json.loads(listed.stdout)} == {"demo-aws"}


@pytest.mark.slow
def test_demo_writes_where_database_says(vigil_cli: VigilCli) -> None:
    target = vigil_cli.cwd / "elsewhere" / "demo.db"
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_DATABASE_URL"}
    result = vigil_cli(
        "demo", "--servers-per-region", "1", "--database", f"sqlite:///{target}", env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.exists()
    assert not (vigil_cli.cwd / "demo").exists()
    assert not vigil_cli.database_path.exists()
