"""Config of a hosts source (`provider: hosts`): servers outside the clouds, read over SSH.

```yaml
sources:
  - name: colo
    provider: hosts
    ssh:
      user: vigil
      key_file: /etc/vigil/id_ed25519        # or agent: true (SSH_AUTH_SOCK)
      known_hosts: /etc/vigil/known_hosts    # always verified; there is no way to turn it off
      timeout: 15s                           # per host: connect, authenticate, run the facts
      concurrency: 32                        # hosts in flight at once
      sudo: false                            # or true, or a list: [ports, certificates, backup]
    targets:
      - {host: 10.0.0.5, port: 22, name: db-1, allowed_ports: [22, 5432]}
      - {host: 10.0.0.9, name: edge-1, node_exporter: {port: 9100}}   # no SSH: scrape instead
      - host: 10.0.0.6
        databases: [{engine: postgresql, run_as: postgres, replication: required}]
    ansible_inventory: /etc/ansible/hosts    # INI or YAML; adds its hosts
    from_inventory: {enabled: false, address: private}   # servers other sources found
    certificate_paths: [/etc/nginx/ssl, /etc/haproxy/certs]
    certificate_depth: 3
    backup: {path: "/var/backups/*.tar.gz", covers: ["/"]}   # or command: ...
    load_balancers:                          # opt-in: nginx / HAProxy as load_balancer resources
      nginx: {}                              # `nginx -T`; or {config: /etc/nginx/nginx.conf}
      haproxy: {}                            # /etc/haproxy/haproxy.cfg and its stats socket
    restore_evidence: {file: /var/log/restore-drill.log, max_age: 30d}   # or command: ...
```
"""

from __future__ import annotations

import os
import posixpath
import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from collectors.base import SourceConfig
from collectors.hosts.dbconfig import DatabaseTarget, check_unique
from vigil.core.schema import Duration, EnvStr, SecretRef, StrictModel

SUDO_FACTS = ("system", "disks", "ports", "certificates", "backup", "load_balancers", "restore")
"""Fact groups whose commands may run under `sudo -n` when listed in `ssh.sudo`."""
SudoFact = Literal[
    "system", "disks", "ports", "certificates", "backup", "load_balancers", "restore"
]


def _check_ports(ports: list[int] | None) -> list[int] | None:
    if ports is None:
        return None
    for port in ports:
        if not 0 < port < 65536:
            raise ValueError(f"port {port} is outside 1-65535")
    return sorted(set(ports))


def check_host(host: str) -> str:
    """One host name or address, never a range or something a shell would interpret."""
    host = host.strip()
    if not host or any(c in host for c in " /\t'\"`$;&|<>\\"):
        raise ValueError(f"{host!r} is not a host name or address")
    return host


class NodeExporter(StrictModel):
    """Scrape this node_exporter instead of SSH: `{port: 9100}` or `{url: http://.../metrics}`."""

    url: str | None = None
    port: int = Field(default=9100, gt=0, lt=65536)
    timeout: Duration | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"url {url!r} must start with http:// or https://")
        return url

    def address(self, host: str) -> str:
        if self.url:
            return self.url
        bracketed = f"[{host}]" if ":" in host else host
        return f"http://{bracketed}:{self.port}/metrics"


class Target(StrictModel):
    """One host: where to reach it, what it is called, which ports it may listen on."""

    host: str
    port: int = Field(default=22, gt=0, lt=65536)
    name: str | None = None
    user: str | None = None
    allowed_ports: list[int] | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    groups: list[str] = Field(default_factory=list, description="Ansible groups, for display")
    node_exporter: NodeExporter | None = None
    databases: list[DatabaseTarget] = Field(
        default_factory=list, description="databases and caches to read over SSH"
    )
    public_address: str | None = Field(
        default=None,
        description="the address the internet reaches this host at (a NAT or elastic IP): "
        "its nginx/HAProxy listeners on a wildcard address are then internet-facing",
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    @field_validator("public_address")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        return check_host(value) if value is not None else None

    @field_validator("allowed_ports")
    @classmethod
    def _ports(cls, value: list[int] | None) -> list[int] | None:
        return _check_ports(value)

    @field_validator("databases")
    @classmethod
    def _databases(cls, value: list[DatabaseTarget]) -> list[DatabaseTarget]:
        return check_unique(value)

    @model_validator(mode="after")
    def _databases_over_ssh(self) -> Target:
        if self.databases and self.node_exporter is not None:
            raise ValueError(
                "databases are read over SSH; a node_exporter target cannot declare them"
            )
        return self

    @property
    def label(self) -> str:
        """The name the host goes by: its resources' account and the server's native id."""
        return self.name or self.host


class SshSettings(StrictModel):
    """How to log in: a key file or the agent, a known_hosts file that is always checked."""

    user: str = "vigil"
    key_file: EnvStr | None = None
    key_passphrase: SecretRef | None = None
    agent: bool = Field(default=False, description="use the agent at SSH_AUTH_SOCK")
    known_hosts: EnvStr = "~/.ssh/known_hosts"
    timeout: Duration = timedelta(seconds=15)
    concurrency: int = Field(default=32, ge=1, le=1000)
    sudo: bool | list[SudoFact] = False

    @model_validator(mode="after")
    def _some_key(self) -> SshSettings:
        if self.key_file is None and not self.agent:
            raise ValueError("set ssh.key_file (a private key) or ssh.agent: true")
        return self

    @field_validator("known_hosts", "key_file")
    @classmethod
    def _expand(cls, value: str | None) -> str | None:
        return os.path.expanduser(value) if value else value

    def sudo_for(self, fact: str) -> bool:
        """Whether the commands of `fact` run under `sudo -n` (never a shell under sudo)."""
        return self.sudo is True or (isinstance(self.sudo, list) and fact in self.sudo)


class Backup(StrictModel):
    """Where the newest backup is found: a file glob or a command printing its time.

    `command` must print the newest backup's time (ISO 8601 or Unix seconds) as the first word
    of its first line; `path` is a glob whose newest matching file is the newest backup.
    `covers` lists the mountpoints the backup protects (default: every filesystem found).
    """

    path: str | None = None
    command: str | None = None
    covers: list[str] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> Backup:
        if (self.path is None) == (self.command is None):
            raise ValueError("backup needs exactly one of path or command")
        if self.path is not None and not posixpath.isabs(self.path):
            raise ValueError(f"backup.path {self.path!r} must be an absolute path")
        return self


SOCKET_PATH = re.compile(r"/[A-Za-z0-9._/@-]+")
"""A stats socket path socat takes as a path: the characters the config's `stats socket`
lines are read with (collectors/hosts/ssh.py `_SOCKET_AWK`)."""


def _absolute_path(path: str, what: str) -> str:
    if not posixpath.isabs(path) or any(c in path for c in "\n\0"):
        raise ValueError(f"{what} {path!r} must be an absolute path")
    return path


class Nginx(StrictModel):
    """Read nginx's configuration with `nginx -T` (it checks and prints every file it reads)."""

    config: str | None = Field(
        default=None, description="the main file, passed as `nginx -T -c FILE`; default nginx's"
    )
    binary: str | None = Field(
        default=None, description="nginx's path; default `nginx` on PATH, else /usr/sbin/nginx"
    )

    @field_validator("config", "binary")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return _absolute_path(value, "nginx path") if value is not None else None


class Haproxy(StrictModel):
    """Read HAProxy's configuration files (as `haproxy -f` would) and its stats socket."""

    config_paths: list[str] = Field(
        default_factory=lambda: ["/etc/haproxy/haproxy.cfg"],
        description="files, or directories whose *.cfg files are read in name order",
    )
    stats_sockets: list[str] | None = Field(
        default=None,
        description="UNIX sockets asked `show stat` (with socat); default those the config's "
        "`stats socket` lines name; [] to not ask",
    )

    @field_validator("config_paths")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            _absolute_path(path, "haproxy path")
        return paths

    @field_validator("stats_sockets")
    @classmethod
    def _plain_sockets(cls, paths: list[str] | None) -> list[str] | None:
        for path in paths or ():
            if not SOCKET_PATH.fullmatch(path):
                raise ValueError(
                    f"stats socket {path!r} must be an absolute path of letters, digits and "
                    "`._/@-` (socat reads `,` and `:` as options)"
                )
        return paths


class LoadBalancers(StrictModel):
    """Which web servers and proxies of each SSH host become `load_balancer` resources."""

    nginx: Nginx | None = None
    haproxy: Haproxy | None = None


class RestoreEvidence(StrictModel):
    """Where the host's restore drills record their outcome: a file or a command printing it.

    Each line reads `TIME [STATUS]`: TIME in ISO 8601 or Unix seconds; STATUS (optional, any
    case) `ok`, `success`, `succeeded`, `successful`, `passed` or `completed` for a successful
    restore, any other word for a failed one. The newest successful line counts
    (`backup.restore_untested`); a missing file means no restore on record. `max_age` overrides
    the rule's `max_age` for this source's resources; `covers` lists the mountpoints the drill
    proves (default: every filesystem found), and the server itself counts too.

    ```yaml
    restore_evidence: {file: /var/log/restore-drill.log, max_age: 30d}
    restore_evidence: {command: "/usr/local/bin/restore-drill --last", covers: [/srv]}
    ```
    """

    file: str | None = None
    command: str | None = None
    max_age: Duration | None = None
    covers: list[str] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> RestoreEvidence:
        if (self.file is None) == (self.command is None):
            raise ValueError("restore_evidence needs exactly one of file or command")
        if self.file is not None and not posixpath.isabs(self.file):
            raise ValueError(f"restore_evidence.file {self.file!r} must be an absolute path")
        if self.max_age is not None and self.max_age <= timedelta(0):
            raise ValueError("restore_evidence.max_age must be positive, e.g. 90d")
        return self


class FromInventory(StrictModel):
    """Also log in to servers other sources found (opt-in; wired by vigil/)."""

    enabled: bool = False
    address: Literal["private", "public"] = "private"
    port: int = Field(default=22, gt=0, lt=65536)
    allowed_ports: list[int] | None = None


class HostsSourceConfig(SourceConfig):
    """A hosts source: servers listed in the config, an Ansible inventory, or the inventory."""

    provider: Literal["hosts"] = "hosts"
    ssh: SshSettings | None = None
    targets: list[Target] = Field(default_factory=list)
    ansible_inventory: EnvStr | None = None
    from_inventory: FromInventory = Field(default_factory=FromInventory)
    certificate_paths: list[str] = Field(default_factory=list)
    certificate_depth: int = Field(default=3, ge=1, le=10)
    include_ca_certificates: bool = False
    backup: Backup | None = None
    load_balancers: LoadBalancers | None = Field(
        default=None, description="nginx / HAProxy as load_balancer resources (SSH hosts only)"
    )
    restore_evidence: RestoreEvidence | None = None

    @field_validator("certificate_paths")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not posixpath.isabs(path):
                raise ValueError(f"certificate path {path!r} must be absolute")
        return paths

    @model_validator(mode="after")
    def _ssh_when_needed(self) -> HostsSourceConfig:
        over_ssh = [t.label for t in self.targets if t.node_exporter is None]
        needs_ssh = over_ssh or self.ansible_inventory or self.from_inventory.enabled
        if needs_ssh and self.ssh is None:
            raise ValueError(
                "hosts reached over SSH need an ssh block (user, key_file, known_hosts); "
                "give node_exporter to targets where SSH is not allowed"
            )
        return self

    def settings(self) -> SshSettings:
        """The SSH settings; only called for targets that are reached over SSH."""
        if self.ssh is None:  # excluded by the validator for every SSH target
            raise ValueError(f"source {self.name} has no ssh block")
        return self.ssh


def target_from_vars(name: str, variables: dict[str, Any], groups: list[str]) -> Target:
    """A target from Ansible host vars (`ansible_host`, `ansible_port`, `ansible_user`, ...)."""
    port = variables.get("ansible_port", variables.get("ansible_ssh_port", 22))
    user = variables.get("ansible_user", variables.get("ansible_ssh_user"))
    allowed = variables.get("vigil_allowed_ports")
    if isinstance(allowed, str):
        allowed = [int(p) for p in allowed.replace(",", " ").split()]
    public = variables.get("vigil_public_address")
    return Target(
        host=str(variables.get("ansible_host", name)),
        port=int(port),
        name=name,
        user=str(user) if user else None,
        allowed_ports=allowed,
        groups=groups,
        public_address=str(public) if public else None,
    )
