"""A small estate with known history, findings and silences, seeded through real storage.

Timeline (UTC):
- T0: us-east-1 scopes complete: two security groups (one open to the world, with an
  untrusted name and tags), servers i-0001 and i-0002, disk vol-1, certificate cert-1;
  eu-west-1 servers fail (access denied) and never complete.
- T1 = T0 + 1h: a check records network.open_port (critical) on sg-open, cert.expired
  (critical) on cert-1 and backup.missing (high) on vol-1, the last silenced by alice.
- T2 = T0 + 2d: the servers scope completes again: i-0002 is gone, i-0003 is new.

soc2 at T2: CC6.6 and CC7.1 fail (one open finding each), CC6.1 and CC6.7 pass, and A1.2,
CC7.2 and CC8.1 are not evaluated (the eu-west-1 scope is incomplete, or nothing of their
types was collected). A1.2 would pass on its silenced finding alone: the incomplete
scope keeps it from being counted as compliant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rules.backup import BackupMissing
from rules.base import finding
from rules.certificates import CertificateExpired
from rules.network import OpenPort
from storage.db import Database
from storage.findings import FindingStore
from storage.reconcile import Reconciler
from storage.silences import SilenceStore
from tests.factories import resource, scope
from vigil.core.model import Resource, Scope

T0 = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(days=2)
EVIL_NAME = '<script>alert("x")</script>'
FORMULA_TAG = '=HYPERLINK("http://evil.example","click")'
OPEN_PORT_TITLE = "Security group sg-open allows 0.0.0.0/0 on port 22"
EXPIRED_TITLE = "Certificate cert-1 (api.example.com) expired 12 days ago"
BACKUP_TITLE = "Disk vol-1 has no snapshot"
SILENCE_REASON = "legacy volume, decommissioned in Q3 (<b>ticket</b> OPS-1)"

GROUPS = scope(type_="security_group")
SERVERS = scope(type_="server")
DISKS = scope(type_="disk")
CERTS = scope(type_="certificate")
EU_SERVERS = scope(type_="server", region="eu-west-1")


class Clock:
    """A clock the seed moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Estate:
    open_group: Resource
    certificate: Resource
    volume: Resource
    deleted_server: Resource
    created_server: Resource


def _scan(reconciler: Reconciler, where: Scope, found: list[Resource]) -> None:
    run = reconciler.start(where)
    reconciler.add_page(run, found)
    reconciler.complete(run)


def seed(db: Database) -> Estate:
    """Write the timeline above into `db`."""
    clock = Clock()
    reconciler = Reconciler(db, clock=clock)
    open_group = resource(
        "sg-open", within=GROUPS, name=EVIL_NAME, tags={"owner": FORMULA_TAG, "x": "<img src=x>"}
    )
    certificate = resource("cert-1", within=CERTS, name="api.example.com")
    volume = resource("vol-1", within=DISKS, attached_to=["i-0001"])
    servers = [resource(f"i-000{n}", within=SERVERS) for n in (1, 2)]
    _scan(reconciler, GROUPS, [open_group, resource("sg-closed", within=GROUPS)])
    _scan(reconciler, SERVERS, servers)
    _scan(reconciler, DISKS, [volume])
    _scan(reconciler, CERTS, [certificate])
    failed = reconciler.start(EU_SERVERS)
    reconciler.fail(failed, "AccessDenied: not authorized to perform ec2:DescribeInstances")

    store = FindingStore(db)
    SilenceStore(db).add_silence(
        rule="backup.missing",
        resource_uid=volume.uid,
        reason=SILENCE_REASON,
        author="alice",
        expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        now=T1 - timedelta(minutes=5),
    )
    store.apply(
        [
            finding(OpenPort(), open_group, OPEN_PORT_TITLE, "22/tcp from anywhere"),
            finding(CertificateExpired(), certificate, EXPIRED_TITLE, "not_after 2025-05-21"),
            finding(BackupMissing(), volume, BACKUP_TITLE, "no snapshot of its own"),
        ],
        T1,
    )
    clock.now = T2
    created = resource("i-0003", within=SERVERS)
    _scan(reconciler, SERVERS, [servers[0], created])
    return Estate(open_group, certificate, volume, servers[1], created)
