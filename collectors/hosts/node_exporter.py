"""Read a host's facts from its Prometheus node_exporter, where SSH is not allowed.

`fetch` scrapes `/metrics` over HTTP (I/O only); `parse_metrics` maps the exposition to the
same `HostFacts` SSH gives (pure, tested on a recorded exposition in tests/data/hosts/):

| metric | fact |
|---|---|
| `node_uname_info{sysname, release, machine, nodename}` | kernel, architecture, hostname |
| `node_os_info{pretty_name}` | os |
| `node_boot_time_seconds`, `node_time_seconds` | uptime_seconds |
| `node_cpu_seconds_total{cpu, mode="idle"}` | cpus (distinct `cpu` labels) |
| `node_memory_MemTotal_bytes` | memory_bytes |
| `node_filesystem_size_bytes`, `_free_bytes`, `_avail_bytes` {mountpoint, fstype, device} | disks |

node_exporter cannot see listening ports, certificate files or backups: those facts are
*unknown* for such hosts (the server has no `listening_ports` key and no certificate or
snapshot scopes are planned), never empty.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from collectors.hosts.base import DISKS, SYSTEM, Filesystem, HostFacts
from vigil.core.errors import CollectError

PSEUDO_FILESYSTEMS = frozenset(
    {"tmpfs", "devtmpfs", "squashfs", "ramfs", "efivarfs", "rootfs", "nsfs", "autofs", "proc"}
)
MAX_BYTES = 16 * 1024 * 1024


def fetch(url: str, label: str, timeout: float) -> str:
    """The exposition text of one node_exporter; CollectError naming the host and URL."""
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})
    shown = shown_url(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(response.read(MAX_BYTES).decode("utf-8", errors="replace"))
    except urllib.error.HTTPError as exc:
        raise CollectError(
            f"{label}: node_exporter at {shown} answered HTTP {exc.code}; check the URL "
            "(usually http://HOST:9100/metrics)",
            retryable=exc.code >= 500,
        ) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise CollectError(
            f"{label}: cannot scrape node_exporter at {shown}: {_reason(exc)}; check that "
            "node_exporter runs and that this machine may reach its port",
            retryable=True,
        ) from None


def _reason(exc: Exception) -> str:
    """Why a scrape failed, without quoting the URL or what a non-HTTP peer sent."""
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, http.client.HTTPException):  # BadStatusLine: not an HTTP server
        return f"no HTTP answer ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return f"unusable URL ({type(exc).__name__})"  # InvalidURL quotes the URL: not shown


def shown_url(url: str) -> str:
    """`url` without user:password@ (printed in errors, so never a credential)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_metrics(text: str) -> HostFacts:
    """Facts from an exposition; a missing uname or filesystem metric fails that group."""
    samples = _samples(text)
    facts = HostFacts(via="node_exporter")
    try:
        facts.system = _system(samples)
    except (KeyError, ValueError) as exc:
        facts.failed[SYSTEM] = f"node_exporter exposes no {exc.args[0]} metric"
    try:
        facts.filesystems = _filesystems(samples)
    except KeyError as exc:
        facts.failed[DISKS] = f"node_exporter exposes no {exc.args[0]} metric"
    return facts


Samples = dict[str, list[tuple[dict[str, str], float]]]


def _samples(text: str) -> Samples:
    samples: Samples = defaultdict(list)
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[sample.name].append((dict(sample.labels), float(sample.value)))
    except ValueError as exc:
        raise CollectError(f"node_exporter returned an unreadable exposition: {exc}") from None
    return samples


def _one(samples: Samples, name: str) -> tuple[dict[str, str], float]:
    if not samples.get(name):
        raise KeyError(name)
    return samples[name][0]


def _system(samples: Samples) -> dict[str, Any]:
    uname, _ = _one(samples, "node_uname_info")
    system: dict[str, Any] = {
        "kernel": uname.get("release"),
        "kernel_name": uname.get("sysname"),
        "hostname": uname.get("nodename"),
        "architecture": uname.get("machine"),
        "os": uname.get("sysname"),
    }
    if samples.get("node_os_info"):
        labels, _ = _one(samples, "node_os_info")
        system["os"] = labels.get("pretty_name") or system["os"]
    if samples.get("node_boot_time_seconds") and samples.get("node_time_seconds"):
        boot = _one(samples, "node_boot_time_seconds")[1]
        system["uptime_seconds"] = int(_one(samples, "node_time_seconds")[1] - boot)
    cpus = {labels.get("cpu") for labels, _ in samples.get("node_cpu_seconds_total", [])}
    if cpus:
        system["cpus"] = len(cpus)
    if samples.get("node_memory_MemTotal_bytes"):
        system["memory_bytes"] = int(_one(samples, "node_memory_MemTotal_bytes")[1])
    return system


def _filesystems(samples: Samples) -> list[Filesystem]:
    """One entry per mountpoint of a real filesystem; a device error skips that mountpoint."""
    size = _by_mount(samples, "node_filesystem_size_bytes")
    free = _by_mount(samples, "node_filesystem_free_bytes")
    avail = _by_mount(samples, "node_filesystem_avail_bytes")
    device_errors = _by_mount(samples, "node_filesystem_device_error")
    failing = {key for key, (_, value) in device_errors.items() if value}
    filesystems = []
    for key, (labels, total) in sorted(size.items()):
        if labels.get("fstype") in PSEUDO_FILESYSTEMS or key not in free or key not in avail:
            continue
        if key in failing:
            continue  # node_exporter could not stat it: its numbers are not real
        free_total = free[key][1]
        filesystems.append(
            Filesystem(
                mountpoint=labels.get("mountpoint", ""),
                filesystem=labels.get("fstype", ""),
                device=labels.get("device", ""),
                size_bytes=int(total),
                used_bytes=int(total - free_total),
                free_bytes=int(avail[key][1]),
            )
        )
    return filesystems


def _by_mount(samples: Samples, name: str) -> dict[str, tuple[dict[str, str], float]]:
    if name != "node_filesystem_device_error" and not samples.get(name):
        raise KeyError(name)
    return {labels.get("mountpoint", ""): (labels, value) for labels, value in samples[name]}
