"""Plugins through real wheels: docs/examples/vigil-acme-rules, built and installed into a
fresh venv that sees the project, adds a rule that `vigil rules list` lists and `vigil check`
runs; a plugin claiming a built-in id stops start-up naming both packages."""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from storage.db import Database
from storage.reconcile import Reconciler
from tests.factories.rules import SOURCE, resource
from tests.factories.storage import scan
from vigil.core.model import Scope

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs/examples/vigil-acme-rules"

pytestmark = pytest.mark.slow


def build_wheel(project: Path, out: Path) -> Path:
    """`pip wheel` of a copy of `project` (building writes into the source tree)."""
    source = out / "src" / project.name
    shutil.copytree(project, source)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return next(out.glob("*.whl"))


def venv_with(tmp_path: Path, *wheels: Path) -> Path:
    """A new venv whose site-packages sees this project and its dependencies, plus `wheels`."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    packages = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    project_site = site.getsitepackages()[0]
    (packages / "vigil-dev.pth").write_text(
        f"{REPO}\nimport site; site.addsitedir({project_site!r})\n", encoding="utf-8"
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--prefix", str(venv), *map(str, wheels)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return python


def vigil(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "VIGIL_DATABASE_URL": f"sqlite:///{cwd}/v.db"}
    return subprocess.run(
        [str(python), "-m", "vigil", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_a_plugin_rule_is_listed_and_runs_in_check(tmp_path: Path) -> None:
    python = venv_with(tmp_path, build_wheel(EXAMPLE, tmp_path / "wheels"))
    listed = vigil(python, tmp_path, "rules", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert "acme.ownerless" in {rule["id"] for rule in json.loads(listed.stdout)}

    db = Database(f"sqlite:///{tmp_path}/v.db")
    owned = resource("server", "i-owned", tags={"owner": "web@acme.example"})
    scan(Reconciler(db), Scope(SOURCE, "aws", owned.account, owned.region, "server"),
         [[owned, resource("server", "i-nobody")]])  # fmt: skip
    db.dispose()
    (tmp_path / "vigil.yaml").write_text(
        f"sources:\n  - {{name: {SOURCE}, provider: aws, regions: [us-east-1]}}\n"
        "rules:\n  params:\n    acme.ownerless: {tag: owner}\n"
    )
    checked = vigil(python, tmp_path, "check", "--no-notify")
    assert checked.returncode == 0, checked.stderr
    found = vigil(python, tmp_path, "findings", "--rule", "acme.ownerless", "--format", "json")
    assert [f["native_id"] for f in json.loads(found.stdout)] == ["i-nobody"]


def test_a_plugin_param_typo_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    python = venv_with(tmp_path, build_wheel(EXAMPLE, tmp_path / "wheels"))
    (tmp_path / "vigil.yaml").write_text("rules:\n  params:\n    acme.ownerless: {tga: owner}\n")
    result = vigil(python, tmp_path, "config", "validate")
    assert result.returncode == 2
    assert "vigil.yaml:3" in result.stderr and "acme.ownerless takes: tag" in result.stderr


def test_a_plugin_claiming_a_builtin_id_stops_start_up_naming_both(tmp_path: Path) -> None:
    rogue = tmp_path / "rogue"
    (rogue / "rogue_rules").mkdir(parents=True)
    (rogue / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "rogue-rules"
        version = "0.1"
        [project.entry-points."vigil.rules"]
        mine = "rogue_rules:Impostor"
        [tool.setuptools]
        packages = ["rogue_rules"]
        """))  # fmt: skip
    (rogue / "rogue_rules" / "__init__.py").write_text(
        "from rules.backup import BackupMissing\n\n\nclass Impostor(BackupMissing):\n    pass\n"
    )
    python = venv_with(tmp_path, build_wheel(rogue, tmp_path / "wheels"))
    result = vigil(python, tmp_path, "rules", "list")
    assert result.returncode == 2
    assert "rule 'backup.missing' is claimed twice" in result.stderr
    assert "vigil (built-in)" in result.stderr and "rogue-rules 0.1" in result.stderr
    assert "Traceback" not in result.stderr
    assert vigil(python, tmp_path, "check").returncode == 2  # judging would use the impostor
    assert vigil(python, tmp_path, "--help").returncode == 0  # help loads no registry
    escape = subprocess.run(
        [str(python), "-m", "vigil", "rules", "list"], cwd=tmp_path, capture_output=True,
        text=True, env={"PATH": "/usr/bin:/bin", "VIGIL_NO_PLUGINS": "1"},
    )  # fmt: skip
    assert escape.returncode == 0
