"""What the hosts collector's parts share: facts about one host, and the inventory it may read.

Facts come from SSH (collectors/hosts/ssh.py) or node_exporter (node_exporter.py) and are
turned into resources by collectors/hosts/resources.py, whichever way they were read. A fact
group that could not be read is recorded in `HostFacts.failed`, so the scope that needs it
fails (unknown) instead of reporting an empty list (which would delete or resolve things).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

SYSTEM, DISKS, PORTS, CERTIFICATES, BACKUP = "system", "disks", "ports", "certificates", "backup"
LOAD_BALANCERS = "load_balancers"
RESTORE = "restore"


@dataclass
class Filesystem:
    """One mounted filesystem as `df` or node_exporter sees it (sizes in bytes)."""

    mountpoint: str
    filesystem: str
    device: str
    size_bytes: int
    used_bytes: int
    free_bytes: int

    @property
    def used_percent(self) -> float:
        """Used share of the space a user can fill, as `df` computes it (reserved excluded)."""
        usable = self.used_bytes + self.free_bytes
        return round(100.0 * self.used_bytes / usable, 1) if usable else 0.0


@dataclass
class CertificateFile:
    """The certificates (leaf first) found in one file on the host; never its keys."""

    path: str
    pem_blocks: list[bytes]


@dataclass
class BackupFound:
    """The newest backup the configured path or command showed."""

    started_at: str
    location: str | None = None
    size_bytes: int | None = None


@dataclass
class Listener:
    """One address and port a web server or proxy accepts connections on, as configured.

    `default_action` is `forward` (to `target_groups`), `redirect` (`redirect_https` when to
    https), `fixed-response` (a configured answer or error) or `serve` (content of its own, e.g.
    static files: plain HTTP like `forward`, but with no targets behind it).
    """

    protocol: str
    address: str
    port: int
    tls: bool = False
    certificate_files: list[str] = field(default_factory=list)
    default_action: str = "forward"
    redirect_https: bool = False
    target_groups: list[str] = field(default_factory=list)
    server_names: list[str] = field(default_factory=list)
    file: str = ""
    line: int = 0


@dataclass
class Backend:
    """One server behind a target group (nginx upstream, HAProxy backend); health from the
    stats socket, None when unknown."""

    address: str
    port: int | None
    target_group: str
    name: str | None = None
    health: str | None = None
    backup: bool = False


@dataclass
class Balancer:
    """One nginx or HAProxy instance's configuration (and HAProxy's live server states)."""

    kind: str
    config_files: list[str]
    listeners: list[Listener]
    backends: list[Backend]
    health_source: str | None = None
    """Where target health came from (`stats socket PATH`); None when it is unknown."""
    health_note: str | None = None
    """Why health is unknown (no stats socket configured, socket not readable, ...)."""
    stats_sockets: list[str] = field(default_factory=list)
    targets_complete: bool = True
    """False when some traffic goes to targets the config does not list (nginx `proxy_pass
    $var`, HAProxy dynamic `use_backend`, `server-template`...): no target is not no target."""
    targets_note: str | None = None
    """Where the targets Vigil could not enumerate are configured."""


@dataclass
class RestoreFound:
    """What the restore evidence showed: the newest successful restore (None: none recorded)."""

    last_success_at: str | None = None
    entries: int = 0


@dataclass
class DatabaseFacts:
    """What one database or cache server said about itself (replication, from its client).

    `running: false` means its client was refused at the server's socket or port: the server
    is down (an observation). A client that failed otherwise (sudo, auth) records the fact
    group as failed instead: unknown, never "down".
    """

    running: bool
    role: str | None = None
    """`primary` or `replica` (a server that is down: None)."""
    version: str | None = None
    streaming: bool | None = None
    """A replica: whether it is receiving changes from its primary now; a primary: None."""
    state: str | None = None
    """A replica's link state as the server names it (`streaming`, `up`, `Yes/No`...)."""
    lag_seconds: float | None = None
    lag_bytes: int | None = None
    upstream_host: str | None = None
    upstream_port: int | None = None
    replicas: list[dict[str, Any]] = field(default_factory=list)
    """A primary's connected replicas: {name, address, port, state, lag_seconds, lag_bytes}."""
    replica_count: int | None = None
    """How many of `replicas` stream now (PostgreSQL `streaming`, Redis `online`, MySQL binlog
    dump threads); None when the server cannot show it (a privilege the user lacks)."""
    error: str | None = None
    """Why the server is taken as not running (the client's first error line)."""
    backup: BackupFound | None = None


@dataclass
class HostFacts:
    """Everything read from one host in one pass."""

    via: str
    system: dict[str, Any] = field(default_factory=dict)
    filesystems: list[Filesystem] = field(default_factory=list)
    listening_ports: list[dict[str, Any]] | None = None
    certificates: list[CertificateFile] = field(default_factory=list)
    backup: BackupFound | None = None
    load_balancers: list[Balancer] = field(default_factory=list)
    restore: RestoreFound | None = None
    """Set when restore evidence was read; None when not configured or unreadable."""
    addresses: list[str] | None = None
    """The host's own IP addresses (`ip -o addr show`, read with load_balancers); None when
    not read: what a wildcard listener faces is then unknown."""
    databases: dict[str, DatabaseFacts] = field(default_factory=dict)
    """Declared database label → what it said (collectors/hosts/databases.py)."""
    failed: dict[str, str] = field(default_factory=dict)
    """fact group → why it could not be read (the scope needing it fails with this)."""


class HostInventory(Protocol):
    """What a hosts source may read from the inventory; vigil/ implements and injects it.

    Collectors know nothing of storage: the pipeline passes `StorageInventory`
    (vigil/app/inventory_reader.py) as `HostsCollector(config, inventory=...)`. `servers` is
    required for `from_inventory`; `host_accounts(source)` is optional (looked up with
    getattr): with it, hosts removed from the config are planned once more as empty scopes
    so their records are deleted.
    """

    def servers(self) -> Iterable[tuple[str, str, list[str], list[str]]]:
        """(uid, name, private addresses, public addresses) of every present server."""
        ...


HostAccounts = Callable[[str], Iterable[str]]
"""`host_accounts(source)`: accounts (host names) under which `source` has present records."""
