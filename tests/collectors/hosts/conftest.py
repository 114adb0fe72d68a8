"""Fixtures of the hosts collector tests: configs for the real sshd (tests/fixtures/sshd.py)."""

from __future__ import annotations

from typing import Any

from collectors.hosts.config import HostsSourceConfig
from tests.fixtures.replication import pg_pair, redis_pair
from tests.fixtures.sshd import SshServer

__all__ = ["hosts_config", "pg_pair", "redis_pair"]


def hosts_config(server: SshServer, *targets: dict[str, Any], **options: Any) -> HostsSourceConfig:
    """A hosts source logging in to `server` as its user with its throwaway key."""
    ssh = {
        "user": server.user,
        "key_file": server.client_key,
        "known_hosts": server.known_hosts,
        "timeout": 10,
        **options.pop("ssh", {}),
    }
    if not targets:
        targets = ({"host": "127.0.0.1", "port": server.port, "name": "local"},)
    return HostsSourceConfig.model_validate(
        {"name": "colo", "ssh": ssh, "targets": list(targets), **options}
    )
