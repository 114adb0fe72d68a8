"""What every page needs: the database URL and the config, read from the environment.

`vigil dashboard` sets VIGIL_DATABASE_URL and VIGIL_CONFIG; run by hand, the defaults apply
(`sqlite:///vigil.db`, `./vigil.yaml` when it exists).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vigil.app.access import AccessConfig
from vigil.app.config import VigilConfig, load_config, resolve_database_url
from vigil.core.defaults import DEFAULT_CONFIG_PATH
from vigil.core.errors import VigilError


@dataclass(frozen=True)
class Settings:
    """The dashboard's view of the configuration."""

    database_url: str
    config: VigilConfig | None  # None when there is no config file
    config_path: str | None
    config_error: str | None = None

    @property
    def sources_configured(self) -> bool:
        return bool(self.config and self.config.sources)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.config and self.config.dashboard.oidc)

    @property
    def access(self) -> AccessConfig:
        """The allow-list; with OIDC the config guarantees one that names someone."""
        configured = self.config.dashboard.access if self.config else None
        return configured or AccessConfig()


def config_path() -> str | None:
    """VIGIL_CONFIG, else ./vigil.yaml when it exists (what the CLI would read)."""
    return os.environ.get("VIGIL_CONFIG") or (
        DEFAULT_CONFIG_PATH if Path(DEFAULT_CONFIG_PATH).exists() else None
    )


def load_settings(path: str | None) -> Settings:
    """Settings from the config at `path` and VIGIL_DATABASE_URL; a broken config is reported."""
    config, error = None, None
    if path:
        try:
            config = load_config(path)
        except VigilError as exc:
            error = str(exc)
    return Settings(resolve_database_url(config), config, path, error)
