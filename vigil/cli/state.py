"""What every command shares: the config file (loaded once, lazily) and the database.

The config and storage modules are imported on first use, not here: `vigil --help` and
commands that need neither should not pay for SQLAlchemy, pydantic models and every
collector's config (issue "Scale out", start-up).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vigil.core.defaults import DEFAULT_CONFIG_PATH
from vigil.core.errors import ConfigError
from vigil.core.lazy import importing
from vigil.core.model import utcnow

if TYPE_CHECKING:
    from storage.db import Database
    from vigil.app.config import VigilConfig
    from vigil.core.retention import RetentionPolicy


@dataclass
class AppState:
    """The global options, resolved at the CLI edge."""

    config_path: str = DEFAULT_CONFIG_PATH
    config_explicit: bool = False
    _config: VigilConfig | None = field(default=None, repr=False)
    _db: Database | None = field(default=None, repr=False)

    @classmethod
    def from_options(cls, config: str | None) -> AppState:
        explicit = config or os.environ.get("VIGIL_CONFIG")
        return cls(config_path=explicit or DEFAULT_CONFIG_PATH, config_explicit=bool(explicit))

    def config(self, *, required: bool = False) -> VigilConfig | None:
        """The parsed config; None when the default file is absent and not required."""
        if self._config is None:
            if not Path(self.config_path).exists() and not self.config_explicit:
                if required:
                    raise ConfigError(
                        "no config file found",
                        path=self.config_path,
                        fix="run `vigil init` to write an example, or pass --config FILE",
                    )
                return None
            with importing():
                from vigil.app.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    def require_config(self) -> VigilConfig:
        config = self.config(required=True)
        assert config is not None
        return config

    def database_url(self) -> str:
        """The configured database's URL, checked but not opened. Validates the config first."""
        with importing():
            from vigil.app.config import resolve_database_url

        return resolve_database_url(self.config())

    def database(self) -> Database:
        """The configured database, migrated. Validates the config first: bad config, no writes."""
        if self._db is None:
            url = self.database_url()
            with importing():
                from storage.db import Database

            self._db = Database(url)
        return self._db

    def retention(self) -> RetentionPolicy:
        from vigil.core.retention import RetentionPolicy

        config = self.config()
        return config.retention.policy() if config else RetentionPolicy()

    def require_history(self, as_of: datetime | None) -> None:
        """An --as-of before the kept history exits 2 naming the limit (nothing guessed)."""
        if as_of is not None:
            from storage.retention import check_as_of

            check_as_of(self.database(), as_of, self.retention().changes, utcnow())


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppState)
    return obj
