"""The hosts collector: servers outside the clouds, read over SSH or from node_exporter.

```yaml
sources:
  - name: colo
    provider: hosts
    ssh: {user: vigil, key_file: /etc/vigil/id_ed25519, known_hosts: /etc/vigil/known_hosts}
    targets: [{host: 10.0.0.5, name: db-1, allowed_ports: [22, 5432]}]
    ansible_inventory: /etc/ansible/hosts
    certificate_paths: [/etc/nginx/ssl]
```

`plan` gives one scope per (host, type) — account = the host's name, region `global`, types
`server`, `disk`, `certificate`, `snapshot`, and `load_balancer` (nginx, HAProxy) when
`load_balancers` is configured (node_exporter hosts: `server`, `disk`) — so an
unreachable host fails its own scopes only, and nothing of it is deleted or resolved. The
scopes of one host share one read of its facts per pass (one SSH connection), memoized here
and bounded by `ssh.concurrency`. See docs/sources/hosts.md for why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collectors.hosts.config import HostsSourceConfig

if TYPE_CHECKING:
    from collectors.hosts.base import HostInventory

__all__ = ["HostInventory", "HostsCollector", "HostsSourceConfig"]


def __getattr__(name: str) -> Any:
    """The collector (and its heavy client libraries) load on first use, not with the config."""
    if name in ("HostsCollector",):
        from collectors.hosts import collector

        return getattr(collector, name)
    if name == "HostInventory":
        from collectors.hosts import base

        return base.HostInventory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
