"""An empty database: every page says what to do next instead of showing empty charts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard.helpers import texts

PAGES = [
    None,
    *(
        f"views/{name}.py"
        for name in ("inventory", "findings", "certificates", "changes", "collectors")
    ),
]


@pytest.mark.parametrize("page", PAGES)
def test_no_sources_configured(open_page, page: str | None) -> None:
    app = open_page(page)
    assert "No sources configured: run `vigil init`" in texts(app)
    assert not app.metric


def test_sources_configured_but_never_collected(
    open_page, dashboard_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = dashboard_env / "vigil.yaml"
    config.write_text("sources:\n  - name: aws-prod\n    provider: aws\n    regions: [us-east-1]\n")
    monkeypatch.setenv("VIGIL_CONFIG", str(config))
    app = open_page()
    assert "Inventory empty: run `vigil collect`" in texts(app)
