"""Turn one host's facts into the resources of one scope type. Pure.

Identity (docs/sources/hosts.md): account = the host's name, region `global`; native ids are
`NAME` (server), `NAME:MOUNTPOINT` (disk), `NAME:PATH` (certificate) and
`NAME:MOUNTPOINT@backup` (snapshot), so they stay stable when the host's address changes.
"""

from __future__ import annotations

import ipaddress
import warnings
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning

from collectors.hosts.base import HostFacts
from collectors.hosts.config import HostsSourceConfig, Target
from collectors.probes.certs import certificate_attributes
from vigil.model import GLOBAL_REGION, Resource, ResourceType, make_uid

PROVIDER = "hosts"
SERVER, DISK, CERTIFICATE, SNAPSHOT = (
    ResourceType.SERVER.value,
    ResourceType.DISK.value,
    ResourceType.CERTIFICATE.value,
    ResourceType.SNAPSHOT.value,
)


def _resource(
    source: str, target: Target, type_: str, native_id: str, attributes: dict[str, Any]
) -> Resource:
    return Resource(
        source=source,
        provider=PROVIDER,
        account=target.label,
        region=GLOBAL_REGION,
        type=type_,
        native_id=native_id,
        name=native_id,
        tags=dict(target.tags),
        attributes=attributes,
    )


def server(source: str, target: Target, facts: HostFacts) -> Resource:
    """The host itself: system facts, listening ports (SSH only), policy, how it was read."""
    attributes: dict[str, Any] = {
        **facts.system,
        "address": target.host,
        "reachable": True,
        "collected_via": facts.via,
        "groups": sorted(target.groups),
        **_addresses(target.host),
    }
    if facts.listening_ports is not None:
        attributes["listening_ports"] = facts.listening_ports
    if target.allowed_ports is not None:
        attributes["allowed_ports"] = target.allowed_ports
    return _resource(source, target, SERVER, target.label, attributes)


def _addresses(host: str) -> dict[str, list[str]]:
    """`private_ips`/`public_ips` when the target is an IP literal (dns.dangling reads them)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return {}
    key = "private_ips" if address.is_private or address.is_loopback else "public_ips"
    return {key: [str(address)]}


def disk_native_id(target: Target, mountpoint: str) -> str:
    return f"{target.label}:{mountpoint}"


def disks(source: str, target: Target, facts: HostFacts) -> list[Resource]:
    """One disk per filesystem, attached to the server (so backup rules apply)."""
    return [
        _resource(
            source,
            target,
            DISK,
            disk_native_id(target, fs.mountpoint),
            {
                "mountpoint": fs.mountpoint,
                "filesystem": fs.filesystem,
                "device": fs.device,
                "size_bytes": fs.size_bytes,
                "used_bytes": fs.used_bytes,
                "free_bytes": fs.free_bytes,
                "used_percent": fs.used_percent,
                "attached_to": [target.label],
                "state": "in-use",
            },
        )
        for fs in facts.filesystems
    ]


def certificates(
    source: str, target: Target, facts: HostFacts, config: HostsSourceConfig
) -> list[Resource]:
    """One certificate per file (leaf = its first block); CA files only when asked."""
    found = []
    for file in facts.certificates:
        chain = _load(file.pem_blocks)
        if not chain:
            continue  # a damaged block is not a certificate anyone serves
        if _is_ca(chain[0]) and not config.include_ca_certificates:
            continue
        attributes = certificate_attributes([c.public_bytes(Encoding.DER) for c in chain])
        attributes.update(origin="file", path=file.path, host=target.label)
        found.append(
            _resource(source, target, CERTIFICATE, f"{target.label}:{file.path}", attributes)
        )
    return found


def _load(blocks: list[bytes]) -> list[x509.Certificate]:
    """Parse PEM blocks; [] when one is damaged. Old CA files (negative serials) are quiet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            return [x509.load_pem_x509_certificate(block) for block in blocks]
        except ValueError:
            return []


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def snapshots(
    source: str, target: Target, facts: HostFacts, config: HostsSourceConfig
) -> list[Resource]:
    """The newest backup, as one snapshot per filesystem it covers (`backup.covers`)."""
    if facts.backup is None or config.backup is None:
        return []
    mounts = {fs.mountpoint for fs in facts.filesystems}
    covered = config.backup.covers if config.backup.covers is not None else sorted(mounts)
    found = []
    for mountpoint in covered:
        if mountpoint not in mounts:
            continue  # not a filesystem of this host: nothing to attach the backup to
        disk_id = disk_native_id(target, mountpoint)
        attributes = {
            "kind": "file",
            "state": "completed",
            "started_at": facts.backup.started_at,
            "source_uid": make_uid(PROVIDER, target.label, GLOBAL_REGION, DISK, disk_id),
            "source_native_id": disk_id,
            "location": facts.backup.location,
            "size_bytes": facts.backup.size_bytes,
        }
        found.append(_resource(source, target, SNAPSHOT, f"{disk_id}@backup", attributes))
    return found
