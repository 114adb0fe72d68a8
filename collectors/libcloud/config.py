"""Config of a libcloud source (`provider: libcloud`): any libcloud compute (and DNS) driver.

```yaml
sources:
  - name: do
    provider: libcloud
    driver: digitalocean
    key: ${DO_TOKEN}
    dns_driver: digitalocean            # optional: zones and records
    dns_key: ${DO_TOKEN}
  - name: dnsimple                      # DNS only: no compute driver
    provider: libcloud
    dns_driver: dnsimple                # API v2; cloudflare likewise (an API token)
    dns_key: ${DNSIMPLE_TOKEN}
  - name: lab
    provider: libcloud
    driver: cloudstack
    key: ${CS_KEY}
    secret: ${CS_SECRET}
    host: cloud.lab.example.com
    options: {path: /client/api}
    lb_driver: cloudstack               # optional: load-balancer rules (lb_key etc. default
                                        # to key, secret, and options for the same driver)
  - name: private-cloud
    provider: libcloud
    driver: openstack
    key: ${OS_USERNAME}
    secret: ${OS_PASSWORD}
    region: RegionOne
    options:                            # passed to the driver as keyword arguments
      ex_force_auth_url: https://keystone.example.com:5000
      ex_tenant_name: ops
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from collectors.base import SourceConfig
from vigil.core.schema import (
    EnvStr,
    SecretRef,
    expand_env,
    is_credential_name,
    is_env_reference,
)

"""Option names holding a credential (`ex_force_auth_token`, `ex_key_file`, ...)."""


_NEEDS = {
    "libvirt": ("uri", "the hypervisor to read, e.g. uri: qemu:///system"),
    "vsphere": ("host", "the vCenter or ESXi host name, e.g. host: vcenter.example.com"),
}


LB_DRIVERS = ("cloudstack",)
"""`lb_driver` names Vigil can read: load balancers need per-member health, which libcloud's
generic `Member` lacks, so each is read by Vigil's own driver (collectors/libcloud/
loadbalancer.py)."""


def _known(kind: str, name: str) -> str:
    # libcloud loads only for a config with a libcloud source: 20 ms of every other start-up.
    from libcloud.compute.providers import DRIVERS as COMPUTE_DRIVERS
    from libcloud.dns.providers import DRIVERS as DNS_DRIVERS

    drivers = COMPUTE_DRIVERS if kind == "compute" else DNS_DRIVERS
    if name not in drivers:
        known = ", ".join(sorted(str(n) for n in drivers))
        raise ValueError(f"unknown libcloud {kind} driver {name!r}; known drivers: {known}")
    return name


class LibcloudSourceConfig(SourceConfig):
    """A libcloud source: one account of one provider, through libcloud's drivers."""

    provider: Literal["libcloud"] = "libcloud"
    driver: str | None = Field(default=None, description="libcloud compute driver name")
    key: SecretRef | None = None
    secret: SecretRef | None = None
    region: str | None = None
    api_version: str | None = Field(
        default=None, description="driver API version (openstack: 2.0 unless set)"
    )
    account: str | None = Field(default=None, description="account label in uids (default: name)")
    host: EnvStr | None = Field(default=None, description="API host of a private cloud")
    uri: EnvStr | None = Field(
        default=None, description="libvirt hypervisor URI: qemu:///system, qemu+ssh://host/system"
    )
    port: int | None = Field(default=None, gt=0, lt=65536)
    secure: bool = True
    options: dict[str, Any] = Field(default_factory=dict, description="extra driver kwargs")
    dns_driver: str | None = None
    dns_key: SecretRef | None = None
    dns_secret: SecretRef | None = None
    dns_options: dict[str, Any] = Field(default_factory=dict)
    lb_driver: str | None = Field(
        default=None, description="libcloud load-balancer driver name (cloudstack)"
    )
    lb_key: SecretRef | None = None
    lb_secret: SecretRef | None = None
    lb_options: dict[str, Any] | None = Field(
        default=None,
        description="load-balancer driver kwargs (default: options, when lb_driver is driver)",
    )
    types: list[str] | None = Field(default=None, description="resource types to collect")
    timeout: int = Field(default=60, gt=0, description="seconds per API request")

    @field_validator("driver")
    @classmethod
    def _compute_driver(cls, value: str | None) -> str | None:
        return None if value is None else _known("compute", value)

    @model_validator(mode="after")
    def _target(self) -> LibcloudSourceConfig:
        """Drivers that connect to one hypervisor or vCenter need to be told which."""
        needs = _NEEDS.get(self.driver or "")
        if needs and not getattr(self, needs[0]):
            raise ValueError(f"driver {self.driver} needs {needs[0]}: {needs[1]}")
        return self

    @field_validator("dns_driver")
    @classmethod
    def _dns_driver(cls, value: str | None) -> str | None:
        return None if value is None else _known("dns", value)

    @field_validator("lb_driver")
    @classmethod
    def _lb_driver(cls, value: str | None) -> str | None:
        if value is not None and value not in LB_DRIVERS:
            raise ValueError(
                f"unsupported libcloud load-balancer driver {value!r}; supported: "
                f"{', '.join(LB_DRIVERS)}"
            )
        return value

    @model_validator(mode="after")
    def _lb_target(self) -> LibcloudSourceConfig:
        if self.lb_driver == "cloudstack" and not (
            self.host or self.load_balancer_options.get("url")
        ):
            raise ValueError(
                "lb_driver cloudstack needs host: the CloudStack API host, e.g. host: "
                "cloud.example.com (and options: {path: /client/api} unless it is that), "
                "or options: {url: https://cloud.example.com/client/api}"
            )
        return self

    @field_validator("options", "dns_options", "lb_options")
    @classmethod
    def _expand(cls, options: dict[str, Any] | None) -> dict[str, Any] | None:
        if options is None:
            return None
        for name, value in options.items():
            if is_credential_name(name) and value is not None and not is_env_reference(value):
                # The value itself is never echoed: it is the secret.
                raise ValueError(
                    f"option {name!r} is a credential and must be an environment reference "
                    f"such as ${{{name.upper()}}}, not a literal value; export it and reference it"
                )
        return {key: expand_env(value) for key, value in options.items()}

    @property
    def compute_api_version(self) -> str | None:
        """OpenStack's libcloud default (1.1) predates cinder/neutron: use 2.0 unless told."""
        if self.api_version is None and self.driver == "openstack":
            return "2.0"
        return self.api_version

    @property
    def load_balancer_options(self) -> dict[str, Any]:
        """`lb_options`, else the compute driver's `options` when it is the same driver (one
        CloudStack endpoint serves both)."""
        if self.lb_options is not None:
            return self.lb_options
        return dict(self.options) if self.lb_driver == self.driver else {}

    @property
    def account_label(self) -> str:
        return self.account or self.name

    def secret_values(self) -> list[str]:
        """Plain credential values, to redact from messages: keys, secrets, secret options."""
        refs = (self.key, self.secret, self.dns_key, self.dns_secret, self.lb_key, self.lb_secret)
        values = [ref.get_secret_value() for ref in refs if ref is not None]
        for options in (self.options, self.dns_options, self.lb_options or {}):
            values += [
                str(value) for name, value in options.items() if value and is_credential_name(name)
            ]
        return values
