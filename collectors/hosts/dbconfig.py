"""Config of the databases and caches a hosts target declares (`targets[].databases`).

```yaml
targets:
  - host: 10.0.0.5
    name: db-1
    databases:
      - engine: postgresql        # postgresql | redis | mysql (MySQL 8.0.22+, MariaDB 10.5+)
        name: main                # default ENGINE:PORT; the native id is HOST-NAME:NAME
        port: 5432
        run_as: postgres          # `sudo -n -u postgres psql ...`: OS peer auth, no password
        replication: required     # database.no_replica flags it without a replica
        role: primary             # optional: the role it must have (a down replica is broken)
        backup: {command: "stat -c %Y /var/backups/pg/latest.dump"}   # or path: glob
      - {engine: redis, port: 6379, password: "${REDIS_PASSWORD}"}
```

Credentials never travel in argv or persist: `run_as` uses the server's peer authentication
(the OS user), `password` is a `${VAR}` reference whose value is put in the command's
environment (PGPASSWORD, REDISCLI_AUTH, MYSQL_PWD) inside the script Vigil sends over the SSH
channel's stdin; it is never written to disk and never shown in errors.
"""

from __future__ import annotations

import posixpath
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from vigil.core.schema import SecretRef, StrictModel

Engine = Literal["postgresql", "redis", "mysql"]
CACHE_ENGINES = frozenset({"redis"})
"""Engines whose instances are `cache` resources; the others are `database` resources."""
DEFAULT_PORTS: dict[str, int] = {"postgresql": 5432, "redis": 6379, "mysql": 3306}
_NAME = re.compile(r"^[A-Za-z0-9._:-]+$")
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
_UNSAFE = set(" \t\n\r'\"`$;&|<>\\")


class DatabaseBackup(StrictModel):
    """Where the database's newest backup is found: a file glob, or a command printing its time
    (ISO 8601 or Unix seconds as the first word of its first line), as the host `backup`."""

    path: str | None = None
    command: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> DatabaseBackup:
        if (self.path is None) == (self.command is None):
            raise ValueError("backup needs exactly one of path or command")
        if self.path is not None and not posixpath.isabs(self.path):
            raise ValueError(f"backup.path {self.path!r} must be an absolute path")
        return self


class DatabaseTarget(StrictModel):
    """One database or cache server on the host, read with its own client over SSH."""

    engine: Engine
    name: str | None = Field(default=None, description="default ENGINE:PORT")
    port: int | None = Field(default=None, gt=0, lt=65536)
    host: str | None = Field(
        default=None,
        description="address or socket directory the client connects to on the host "
        "(default: the client's own default, the local socket or localhost)",
    )
    run_as: str | None = Field(
        default=None, description="OS user the client runs as (sudo -n -u USER): peer auth"
    )
    user: str | None = Field(default=None, description="the database user to log in as")
    password: SecretRef | None = None
    dbname: str = Field(default="postgres", description="PostgreSQL: the database to connect to")
    role: Literal["primary", "replica"] | None = Field(
        default=None, description="the role it must have; a declared replica that is down is broken"
    )
    replication: Literal["required", "optional"] = "optional"
    backup: DatabaseBackup | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError(f"database name {value!r} may hold only letters, digits and . _ : -")
        return value

    @field_validator("run_as", "user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not _USER.match(value):
            raise ValueError(f"{value!r} is not a user name")
        return value

    @field_validator("host", "dbname")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or _UNSAFE & set(value)):
            raise ValueError(f"{value!r} must be one host name, address or socket directory")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> DatabaseTarget:
        if self.password is not None and self.run_as is not None:
            raise ValueError(
                "give either run_as (peer authentication as that OS user) or password, not "
                "both: sudo does not pass a password through, and argv would show it"
            )
        return self

    @property
    def label(self) -> str:
        """Its name on the host (unique per target): `name`, else ENGINE:PORT."""
        return self.name or f"{self.engine}:{self.listen_port}"

    @property
    def listen_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.engine]

    @property
    def is_cache(self) -> bool:
        return self.engine in CACHE_ENGINES


def check_unique(databases: list[DatabaseTarget]) -> list[DatabaseTarget]:
    """Two databases of one host must not share a name (their native ids would collide)."""
    seen: set[str] = set()
    for database in databases:
        if database.label in seen:
            raise ValueError(
                f"two databases of this host are called {database.label!r}; give each a name"
            )
        seen.add(database.label)
    return databases
