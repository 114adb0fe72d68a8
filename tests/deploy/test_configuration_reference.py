"""docs/configuration.md is generated from the config models and kept up to date."""

from __future__ import annotations

import subprocess
import sys

from tests.deploy.helpers import REPO
from vigil.app import docs_config
from vigil.app.config import VigilConfig

REFERENCE = REPO / "docs" / "configuration.md"


def test_reference_is_up_to_date() -> None:
    """Regenerating produces no diff; if this fails, run the command in the file's first line."""
    result = subprocess.run(
        [sys.executable, "-m", "vigil.app.docs_config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == REFERENCE.read_text(), (
        "docs/configuration.md is stale: python -m vigil.app.docs_config > docs/configuration.md"
    )


def test_every_top_level_key_and_provider_is_documented() -> None:
    text = REFERENCE.read_text()
    for key in VigilConfig.model_fields:
        assert f"| `{key}` |" in text
    for provider in ("aws", "libcloud", "probe"):
        assert f"## `sources[] (provider: {provider})`" in text
    assert '| `regions` | list of string or `"all"` | `all` |' in text
    assert "| `collect_every` | duration (`30s`, `15m`, `24h`, `7d`) | `15m` |" in text


def test_fallback_descriptions_name_real_keys() -> None:
    assert docs_config.stale_fallbacks() == []
