"""Turn one host's facts into the resources of one scope type. Pure.

Identity (docs/sources/hosts.md): account = the host's name, region `global`; native ids are
`NAME` (server), `NAME:MOUNTPOINT` (disk), `NAME:PATH` (certificate) and
`NAME:MOUNTPOINT@backup` (snapshot), so they stay stable when the host's address changes.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from collectors.certs import certificate_attributes, der_from_pem, is_ca
from collectors.hosts.base import RESTORE, HostFacts
from collectors.hosts.config import HostsSourceConfig, Target
from vigil.core.model import GLOBAL_REGION, Resource, ResourceType, make_uid

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


def server(
    source: str, target: Target, facts: HostFacts, config: HostsSourceConfig | None = None
) -> Resource:
    """The host itself: system facts, listening ports (SSH only), policy, how it was read,
    and the restore evidence when configured."""
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
    if config is not None:
        attributes.update(restore_attributes(facts, config))
    return _resource(source, target, SERVER, target.label, attributes)


def restore_attributes(facts: HostFacts, config: HostsSourceConfig) -> dict[str, Any]:
    """The restore evidence attributes (`backup.restore_untested`); none when not configured.

    `restore_evidence` names how it was read, or is null (unknown) when the file or command
    failed: the scope still completes, the rule stays undecided."""
    evidence = config.restore_evidence
    if evidence is None:
        return {}
    found = facts.restore
    return {
        "restore_evidence": ("file" if evidence.file else "command") if found else None,
        "restore_evidence_error": facts.failed.get(RESTORE),
        "last_restore_at": found.last_success_at if found else None,
        "last_restore_kind": "restore" if found and found.last_success_at else None,
        "restore_max_age_seconds": (
            int(evidence.max_age.total_seconds()) if evidence.max_age else None
        ),
    }


def _covered(mountpoint: str, config: HostsSourceConfig) -> bool:
    evidence = config.restore_evidence
    return evidence is not None and (evidence.covers is None or mountpoint in evidence.covers)


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


def disks(
    source: str, target: Target, facts: HostFacts, config: HostsSourceConfig | None = None
) -> list[Resource]:
    """One disk per filesystem, attached to the server (so backup rules apply), with the
    restore evidence where `restore_evidence.covers` includes it."""
    restored = restore_attributes(facts, config) if config is not None else {}
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
                **(restored if config is not None and _covered(fs.mountpoint, config) else {}),
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
        attributes = _file_attributes(file.pem_blocks, config.include_ca_certificates)
        if attributes is None:
            continue
        attributes.update(origin="file", path=file.path, host=target.label)
        found.append(
            _resource(source, target, CERTIFICATE, f"{target.label}:{file.path}", attributes)
        )
    return found


def _file_attributes(blocks: list[bytes], include_ca: bool) -> dict[str, Any] | None:
    """The file's certificate attributes; None for a CA file (unless asked) or damaged blocks.

    A damaged certificate (unreadable DER or extensions) is not one anyone serves: it is left
    out, and one such file never fails the host's other certificates.
    """
    chain = der_from_pem(blocks)
    if not chain:
        return None
    try:
        if is_ca(chain[0]) and not include_ca:
            return None
        return certificate_attributes(chain)
    except ValueError:
        return None


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
