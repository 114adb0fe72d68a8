"""The vigil.yaml files the deployments ship are valid Vigil configs, and the image fits them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.helpers import DEPLOY, REPO, set_placeholders
from vigil.app.config import load_config

CONFIGS = [
    DEPLOY / "vigil.yaml",
    DEPLOY / "kubernetes" / "base" / "vigil.yaml",
    DEPLOY / "kubernetes" / "overlays" / "example" / "vigil.yaml",
]
DOCKERFILE = DEPLOY / "Dockerfile"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_shipped_config_loads_and_serves_metrics_outside_the_container(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_placeholders(path.read_text(), monkeypatch)
    config = load_config(path)
    assert config.metrics.listen == "0.0.0.0:9464"
    assert config.sources


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", text, re.M)
    assert [name for _, name in stages] == ["build", "runtime"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    (user,) = re.findall(r"^USER (\S+)", text, re.M)
    assert not user.startswith(("0", "root"))
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*(?:\n    .*)*", text, re.M)
    assert "VIGIL_HEALTHCHECK_URL" in healthcheck
    assert "VIGIL_HEALTHCHECK_URL=http://127.0.0.1:9464/healthz" in text
    assert 'ENTRYPOINT ["vigil"]' in text


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    """The root .dockerignore is an allow-list: each COPY source must be let in."""
    allowed = {
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    copied = [
        source
        for line in DOCKERFILE.read_text().splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    ]
    assert copied and set(copied) <= allowed
    assert all((REPO / source).exists() for source in copied)
    packages = {"vigil", "collectors", "rules", "storage", "notifiers", "dashboard"}
    assert packages <= set(copied)
