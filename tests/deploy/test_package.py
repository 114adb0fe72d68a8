"""The package: `python -m build` makes an sdist and a wheel, and the wheel alone runs Vigil.

How the clean environment gets Vigil's dependencies: the wheel is installed with `--no-deps`
into a fresh `python -m venv`, and only then is the test environment's site-packages appended
to its path by a `.pth` line. Those are exactly the versions the suite runs with, it needs no
download of ~100 dependencies, and Vigil itself can only come from the wheel: a plain `.pth`
path does not run the test environment's editable-install hook, and the venv's own
site-packages comes first. The test asserts that `vigil` is imported from the venv, so a
shadowing copy of the source would fail it. Building uses PyPI for the isolated build backend
(setuptools), as `python -m build` does everywhere.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.helpers import REPO

SOURCES = (
    "pyproject.toml",
    "README.md",
    "vigil",
    "collectors",
    "rules",
    "storage",
    "notifiers",
    "dashboard",
)


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel built from a copy of the tree (the shared work tree gets no build/)."""
    work = tmp_path_factory.mktemp("package")
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, source / name)
    run(sys.executable, "-m", "build", "--outdir", work / "dist", source, cwd=work)
    return work / "dist"


@pytest.fixture(scope="module")
def venv(built: Path) -> Path:
    """A fresh venv with the wheel installed, then the suite's dependencies made visible."""
    target = built.parent / "venv"
    run(sys.executable, "-m", "venv", target, cwd=built)
    (wheel,) = built.glob("vigil-*.whl")
    run(target / "bin/python", "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=built)
    (purelib,) = (target / "lib").glob("python3*/site-packages")
    (purelib / "_suite_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return target


def clean_env(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "PYTHON"))}
    return {**keep, "HOME": str(home), "VIGIL_DATABASE_URL": f"sqlite:///{home}/vigil.db"}


@pytest.mark.slow
def test_build_makes_an_sdist_and_a_wheel_with_the_dashboard_and_migrations(built: Path) -> None:
    assert len(list(built.glob("vigil-*.tar.gz"))) == 1
    (wheel,) = built.glob("vigil-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "dashboard/app.py" in names
    assert {"storage/migrations/env.py", "storage/migrations/script.py.mako"} <= names
    versions = {n for n in names if n.startswith("storage/migrations/versions/")}
    shipped = {p.name for p in (REPO / "storage/migrations/versions").glob("*.py")}
    assert {Path(n).name for n in versions} >= shipped
    assert "vigil/templates/vigil.example.yaml" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "vigil = vigil.entry:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.slow
def test_installed_wheel_runs_vigil_from_the_venv(venv: Path, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    origin = run(
        venv / "bin/python",
        "-c",
        "import vigil, dashboard; print(vigil.__file__)",
        cwd=tmp_path,
        env=env,
    )
    assert origin.startswith(str(venv)), f"vigil imported from {origin}, not the wheel"

    assert "collect" in run(venv / "bin/vigil", "--help", cwd=tmp_path, env=env)
    assert "wrote vigil.yaml" in run(venv / "bin/vigil", "init", cwd=tmp_path, env=env)
    modeline, template = (tmp_path / "vigil.yaml").read_text().split("\n", 1)
    assert modeline == "# yaml-language-server: $schema=./vigil.schema.json"
    assert template.startswith("# Vigil configuration.")  # the template shipped in the wheel
    assert '"$defs"' in (tmp_path / "vigil.schema.json").read_text()


@pytest.mark.slow
def test_installed_wheel_migrates_a_new_database_and_finds_the_dashboard(
    venv: Path, tmp_path: Path
) -> None:
    env = clean_env(tmp_path)
    (tmp_path / "vigil.yaml").write_text("sources: []\n")
    assert (
        run(venv / "bin/vigil", "inventory", "--format", "json", cwd=tmp_path, env=env).strip()
        == "[]"
    )
    assert (tmp_path / "vigil.db").stat().st_size > 0
    app = run(
        venv / "bin/python",
        "-c",
        "from vigil.app.dashboard import app_path; p = app_path(); print(p if p.is_file() else '')",
        cwd=tmp_path,
        env=env,
    ).strip()
    assert app.startswith(str(venv)) and app.endswith("dashboard/app.py")
