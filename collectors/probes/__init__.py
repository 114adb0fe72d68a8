"""The probe collector: TLS certificates, DNS resolution and TCP ports, seen from outside.

```yaml
sources:
  - name: edge
    provider: probe
    tls: [api.example.com:443]
    dns: [www.example.com]
    ports: [{host: 203.0.113.10, ports: [22, 443], allowed: [443]}]
```

`plan` gives one scope per probe kind — `certificate` (TLS), `dns_record` (DNS), `server`
(ports) — with account = the source name and region `global`. `collect` runs the whole kind in
one asyncio event loop inside the worker thread (a concurrency limit, a connection rate and a
per-target timeout), so 1,000 endpoints take seconds, not 1,000 handshakes in a row.

An unreachable target does not make the scope fail (that would freeze every other target's
record) and is not dropped (that would delete it): it is reported with `reachable: false`,
`error`, and its last known attributes, read through the injected `ProbeInventory`. See
docs/sources/probes.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collectors.probes.config import ProbeSourceConfig

if TYPE_CHECKING:
    from collectors.probes.base import ProbeInventory

__all__ = ["ProbeCollector", "ProbeInventory", "ProbeSourceConfig"]


def __getattr__(name: str) -> Any:
    """The collector (and its heavy client libraries) load on first use, not with the config."""
    if name in ("ProbeCollector",):
        from collectors.probes import collector

        return getattr(collector, name)
    if name == "ProbeInventory":
        from collectors.probes import base

        return base.ProbeInventory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
