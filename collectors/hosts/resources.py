"""Turn one host's facts into the resources of one scope type. Pure.

Identity (docs/sources/hosts.md): account = the host's name, region `global`; native ids are
`NAME` (server), `NAME:MOUNTPOINT` (disk), `NAME:PATH` (certificate),
`NAME:MOUNTPOINT@backup` (snapshot) and `NAME:nginx` / `NAME:haproxy` (load balancer), so they
stay stable when the host's address changes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from collectors.certs import certificate_attributes, der_from_pem, is_ca
from collectors.hosts.base import RESTORE, Balancer, HostFacts, Listener
from collectors.hosts.config import HostsSourceConfig, Target
from collectors.hosts.listeners import INTERNAL, INTERNET_FACING, host_scheme, scheme
from vigil.core.model import GLOBAL_REGION, LinkKind, Resource, ResourceType, make_uid

PROVIDER = "hosts"
SERVER, DISK, CERTIFICATE, SNAPSHOT, LOAD_BALANCER = (
    ResourceType.SERVER.value,
    ResourceType.DISK.value,
    ResourceType.CERTIFICATE.value,
    ResourceType.SNAPSHOT.value,
    ResourceType.LOAD_BALANCER.value,
)
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost", "ip6-localhost"})


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
        **_addresses(target),
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


def _addresses(target: Target) -> dict[str, list[str]]:
    """`private_ips`/`public_ips` of the target's IP literals, its `public_address` a public
    one (dns.dangling reads them)."""
    found: dict[str, list[str]] = {}
    for host, declared in ((target.host, False), (target.public_address, True)):
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            continue
        private = not declared and (address.is_private or address.is_loopback)
        ips = found.setdefault("private_ips" if private else "public_ips", [])
        if str(address) not in ips:
            ips.append(str(address))
    return found


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


def uid_of(target_label: str, type_: str, native_id: str) -> str:
    return make_uid(PROVIDER, target_label, GLOBAL_REGION, type_, native_id)


def load_balancers(
    source: str, target: Target, facts: HostFacts, hosts: Mapping[str, str]
) -> list[Resource]:
    """nginx and HAProxy of the host, in the `load_balancer` shape of the clouds.

    `hosts` maps the addresses and names of the source's hosts to their names: a backend on
    one of them (or on loopback: this host) links `targets` to that server; each TLS
    listener's certificate files link `serves` to the certificates this source inventoried.
    """
    found = []
    inventoried = {file.path for file in facts.certificates}
    wildcard = wildcard_scheme(target, facts)
    for balancer in facts.load_balancers:
        resource = _balancer(source, target, balancer, inventoried, wildcard)
        for backend in balancer.backends:
            label = target.label if backend.address in LOOPBACK else hosts.get(backend.address)
            if label is not None:
                resource.link(LinkKind.TARGETS, uid_of(label, SERVER, label))
        for listener in resource.attributes["listeners"]:
            for native_id in listener["certificates"]:
                path = native_id.removeprefix(f"{target.label}:")
                if path in inventoried:
                    resource.link(LinkKind.SERVES, uid_of(target.label, CERTIFICATE, native_id))
        found.append(resource)
    return found


def wildcard_scheme(target: Target, facts: HostFacts) -> str | None:
    """What a listener on a wildcard address of this host faces: its `public_address`, its
    addresses as read (`ip -o addr show`), else its target address when that is public."""
    addresses = facts.addresses
    if addresses is None and _addresses(target).get("public_ips"):
        addresses = _addresses(target)["public_ips"]
    return host_scheme(addresses, declared_public=target.public_address is not None)


def _balancer(
    source: str, target: Target, balancer: Balancer, inventoried: set[str], wildcard: str | None
) -> Resource:
    listeners = [
        _listener(target, listener, inventoried, wildcard) for listener in balancer.listeners
    ]
    schemes = {listener["scheme"] for listener in listeners}
    attributes: dict[str, Any] = {
        "kind": balancer.kind,
        "scheme": (
            INTERNET_FACING if INTERNET_FACING in schemes else None if None in schemes else INTERNAL
        ),
        "dns_name": None,
        "host": target.label,
        "listeners": listeners,
        "targets": [
            {
                "id": backend.address,
                "port": backend.port,
                "target_group": backend.target_group,
                "health": backend.health,
                "name": backend.name,
                "backup": backend.backup,
            }
            for backend in balancer.backends
        ],
        "targets_complete": balancer.targets_complete,
        "targets_note": balancer.targets_note,
        "config_files": balancer.config_files,
        "health_source": balancer.health_source,
        "health_note": balancer.health_note,
    }
    native_id = f"{target.label}:{balancer.kind}"
    return _resource(source, target, LOAD_BALANCER, native_id, attributes)


def _listener(
    target: Target, listener: Listener, inventoried: set[str], wildcard: str | None
) -> dict[str, Any]:
    return {
        "protocol": listener.protocol,
        "port": listener.port,
        "address": listener.address,
        "scheme": scheme(listener.address, wildcard),
        "certificates": certificate_ids(target, listener.certificate_files, inventoried),
        "certificate_files": listener.certificate_files,
        "default_action": listener.default_action,
        "redirect_https": listener.redirect_https,
        "target_groups": listener.target_groups,
        "server_names": listener.server_names,
        "config": f"{listener.file}:{listener.line}" if listener.file else None,
    }


def certificate_ids(target: Target, files: list[str], inventoried: set[str]) -> list[str]:
    """Native ids of the certificates a listener names: a file, or (HAProxy `crt DIR`) every
    inventoried certificate file in the directory."""
    ids: list[str] = []
    for path in files:
        inside = sorted(p for p in inventoried if p.startswith(path.rstrip("/") + "/"))
        for each in inside or [path]:
            native_id = f"{target.label}:{each}"
            if native_id not in ids:
                ids.append(native_id)
    return ids
