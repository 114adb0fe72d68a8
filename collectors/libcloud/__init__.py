"""The libcloud collector: any libcloud compute driver (and DNS driver, and CloudStack load
balancers with `lb_driver: cloudstack`), read-only.

```yaml
sources:
  - name: do
    provider: libcloud
    driver: digitalocean
    key: ${DO_TOKEN}
```

`plan` gives one scope per type (account = `account` or the source name, region = `region` or
`global`); DNS types only with a `dns_driver`, `load_balancer` only with an `lb_driver`.
`collect` builds a guarded driver for the scope (drivers are not thread-safe) and streams
normalized pages. A type the driver cannot list is a
failed scope ("driver X cannot list Y"): unknown, never empty, so nothing is deleted or
resolved. Rejected credentials are `AccessDeniedError`. Coverage: docs/sources/libcloud.md.
"""

from __future__ import annotations

from typing import Any

from collectors.libcloud.config import LibcloudSourceConfig

__all__ = ["LibcloudCollector", "LibcloudSourceConfig"]


def __getattr__(name: str) -> Any:
    """The collector (and its heavy client libraries) load on first use, not with the config."""
    if name in ("LibcloudCollector",):
        from collectors.libcloud import collector

        return getattr(collector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
