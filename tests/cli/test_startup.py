"""Start-up stays fast (DESIGN.md Targets: `vigil --help` < 0.3 s; `vigil collect` makes its
first API call < 0.6 s after start): each library loads only for what uses it. Timings are
bench/startup.py's; these hold the imports, which is how start-up regressions creep back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NEVER_FOR_COLLECT = (
    "alembic",
    "collectors.probes.base",  # asyncio's probe runtime
    "cryptography.x509",  # certificates (probes, hosts)
    "libcloud",
    "pandas",
    "requests",  # notification channels
    "slack_sdk",
    "streamlit",
)


def _imported(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh interpreter has loaded after running `code`."""
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    env = {**os.environ, "SLACK_WEBHOOK": "https://hooks.example/services/x"}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_command_line_loads_no_heavy_library() -> None:
    """What `vigil --help` and tab completion load: the command line alone."""
    heavy = (
        *NEVER_FOR_COLLECT,
        "asyncio",
        "boto3",
        "botocore",
        "importlib.metadata",  # __version__, read on `--version` only
        "pydantic",
        "sqlalchemy",
        "sqlmodel",
    )
    assert _imported("import vigil.cli", heavy) == []


# Loaded by a pass while its plans wait on their first API responses, not before them.
NOT_BEFORE_THE_FIRST_REQUEST = (
    "sqlalchemy",
    "sqlmodel",
    "storage.db",
    "storage.reconcile",
    "storage.tables",
    "vigil.app.executor",
    "vigil.app.scope_writer",
)


def test_collect_plans_an_aws_source_without_the_other_families(tmp_path: Path) -> None:
    """Up to `vigil collect`'s first AWS request: its config, the pipeline, the collector;
    not storage, which the pass opens while the plans wait on the API."""
    config = tmp_path / "vigil.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path}/vigil.db\n"
        "sources:\n  - name: aws\n    provider: aws\n    regions: [us-east-1]\n"
        "notifiers:\n  - name: ops\n    type: slack\n    webhook_url: ${SLACK_WEBHOOK}\n"
    )
    code = (
        "from vigil.app.config import load_config, resolve_database_url\n"
        "import vigil.app.collect\n"
        "from collectors.registry import build_collector\n"
        f"config = load_config({str(config)!r})\n"
        "resolve_database_url(config)\n"
        "build_collector(config.sources[0])\n"
        "assert 'boto3' in sys.modules"
    )
    assert _imported(code, NEVER_FOR_COLLECT + NOT_BEFORE_THE_FIRST_REQUEST) == []
