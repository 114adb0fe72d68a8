"""Config of a probe source (`provider: probe`): TLS, DNS and TCP-port probes.

```yaml
sources:
  - name: edge
    provider: probe
    ca_bundle: /etc/ssl/private-ca.pem      # trusted in addition to the system store
    timeout: 5s                             # per target
    concurrency: 100                        # targets in flight at once, per probe kind
    rate: 500                               # new connections per second, per probe kind
    tls:
      - api.example.com:443
      - {host: 10.0.0.5, port: 8443, server_name: internal.example.com}
      - {host: mail.example.com, port: 25, starttls: smtp}
    dns: [www.example.com, shop.example.com]
    resolvers: [1.1.1.1, "10.0.0.2:5353"]   # default: the system's resolvers
    tls_resolve: system                     # or `resolvers`: TLS probes resolve through them
    ports:
      - {host: 203.0.113.10, ports: [22, 80, 443, 5432], allowed: [80, 443]}
    from_inventory:                         # targets the inventory owns (wired by vigil/)
      tls_ports: [443]
      ports: [22, 80, 443, 3389, 5432]
      allowed_ports: [80, 443]
      dns: true
```
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from collectors.base import SourceConfig
from vigil.core.schema import Duration, EnvStr, StrictModel

Port = int


def split_host_port(text: str, default_port: int | None) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, or a bare host/IPv6 address with `default_port`."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # a bare name, or a bare IPv6 address
        host, port_text = text, ""
    if not port_text:
        if default_port is None:
            raise ValueError(f"{text!r} has no port; write it as host:port")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def format_endpoint(host: str, port: int) -> str:
    """`host:port`, bracketing IPv6 addresses: the native id of a probed certificate."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _check_host(host: str) -> str:
    """One host, never a range: a probe only touches targets it was given by name."""
    host = host.strip().rstrip(".").lower()
    if not host or "/" in host or " " in host:
        raise ValueError(f"{host!r} is not a host name or address (ranges are not probed)")
    return host


class TlsTarget(StrictModel):
    """A TLS endpoint: `host:port` or `{host, port, server_name, starttls}`."""

    host: str
    port: int = Field(default=443, gt=0, lt=65536)
    server_name: str | None = Field(default=None, description="SNI and hostname to verify")
    starttls: Literal["smtp"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            host, port = split_host_port(value, 443)
            return {"host": host, "port": port}
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return _check_host(value)

    @property
    def native_id(self) -> str:
        return format_endpoint(self.host, self.port)

    @property
    def sni(self) -> str:
        return self.server_name or self.host


class PortTarget(StrictModel):
    """A host whose TCP ports are probed; `allowed` are the ports policy lets answer."""

    host: str
    ports: list[int] = Field(min_length=1)
    allowed: list[int] = Field(default_factory=list)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return _check_host(value)

    @field_validator("ports", "allowed")
    @classmethod
    def _valid_ports(cls, ports: list[int]) -> list[int]:
        for port in ports:
            if not 0 < port < 65536:
                raise ValueError(f"port {port} is outside 1-65535")
        return sorted(set(ports))


class FromInventory(StrictModel):
    """Derive targets from what the inventory owns (public DNS records, server addresses)."""

    tls_ports: list[int] = Field(default_factory=list, description="TLS-probe these ports")
    ports: list[int] = Field(default_factory=list, description="TCP-probe these ports")
    allowed_ports: list[int] = Field(default_factory=list)
    dns: bool = Field(default=False, description="resolve every record of the DNS inventory")


class ProbeSourceConfig(SourceConfig):
    """A probe source: endpoints Vigil checks from the outside."""

    provider: Literal["probe"] = "probe"
    ca_bundle: EnvStr | None = None
    timeout: Duration = timedelta(seconds=5)
    concurrency: int = Field(default=100, ge=1, le=5000)
    rate: float = Field(default=500, gt=0, description="new connections per second, per kind")
    tls: list[TlsTarget] = Field(default_factory=list)
    dns: list[str] = Field(default_factory=list)
    resolvers: list[str] = Field(default_factory=list)
    tls_resolve: Literal["system", "resolvers"] = Field(
        default="system",
        description=(
            "how TLS probes find a host name's address: the system's resolver, or `resolvers` "
            "(as the DNS probes do; the address connected to is recorded as `address`)"
        ),
    )
    ports: list[PortTarget] = Field(default_factory=list)
    from_inventory: FromInventory = Field(default_factory=FromInventory)

    @field_validator("ca_bundle")
    @classmethod
    def _bundle_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"ca_bundle {value!r} is not a readable file")
        return value

    @field_validator("dns")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return [_check_host(name) for name in names]

    @field_validator("resolvers")
    @classmethod
    def _resolvers(cls, resolvers: list[str]) -> list[str]:
        for text in resolvers:
            host, _ = split_host_port(text, 53)
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(f"resolver {text!r} must be an IP address[:port]") from None
        return resolvers

    def resolver_addresses(self) -> list[tuple[str, int]]:
        return [split_host_port(text, 53) for text in self.resolvers]
