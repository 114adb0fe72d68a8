"""Parse what the read-only commands printed into `HostFacts`. Pure: tested on recorded output.

Each parser takes one command's output (stdout and stderr merged, as the SSH script runs
them) and raises `FactError` when the output cannot be trusted; the caller records that in
`HostFacts.failed` for the fact group, so only the scopes that need it fail.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.hosts.base import BackupFound, CertificateFile, Filesystem, RestoreFound
from vigil.core.model import iso
from vigil.core.timeutil import parse_instant

_PROCESS = re.compile(r'\("([^"]+)",pid=\d+')
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
FILE_MARK = "==> "


class FactError(ValueError):
    """A command failed or printed something unreadable; the message says which and why."""


@dataclass(frozen=True)
class Output:
    """One command's exit status and merged output."""

    command: str
    status: int
    text: str

    def ok(self) -> str:
        """The text, or FactError when the command failed."""
        if self.status != 0:
            raise FactError(f"`{self.command}` failed (exit {self.status}): {_first(self.text)}")
        return self.text


def _first(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "no output"
    return lines[0][:200] + (f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else "")


def parse_system(outputs: Mapping[str, Output]) -> dict[str, Any]:
    """Server attributes from uname, os-release, uptime, nproc, meminfo and lsblk."""
    sysname, nodename, release, machine = _uname(outputs["uname"].ok())
    system: dict[str, Any] = {
        "kernel": release,
        "kernel_name": sysname,
        "hostname": nodename,
        "architecture": machine,
        "os": _os_release(outputs["os"]) or sysname,
        "uptime_seconds": int(float(outputs["uptime"].ok().split()[0])),
        "cpus": int(outputs["cpus"].ok().strip()),
        "memory_bytes": _mem_total(outputs["memory"].ok()),
    }
    blocks = outputs.get("blocks")
    if blocks is not None and blocks.status == 0:
        system["block_devices"] = parse_lsblk(blocks.text)
    return system


def _uname(text: str) -> tuple[str, str, str, str]:
    parts = text.split()
    if len(parts) < 4:
        raise FactError(f"`uname -snrm` printed {text.strip()!r}, expected four fields")
    return parts[0], parts[1], parts[2], parts[-1]


def _os_release(output: Output) -> str | None:
    """PRETTY_NAME of /etc/os-release (absent on some systems: then the kernel name)."""
    if output.status != 0:
        return None
    for line in output.text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME":
            return value.strip().strip('"').strip("'")
    return None


def _mem_total(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024  # /proc/meminfo's "kB" are KiB
    raise FactError("/proc/meminfo has no MemTotal line")


def parse_lsblk(text: str) -> list[dict[str, Any]]:
    """Block devices (children flattened) from `lsblk -J -b`: name, path, size, type, mount."""
    try:
        devices = json.loads(text).get("blockdevices") or []
    except (json.JSONDecodeError, AttributeError) as exc:
        raise FactError(f"lsblk printed invalid JSON: {exc}") from None
    flat: list[dict[str, Any]] = []
    stack = list(reversed(devices))
    while stack:
        device = stack.pop()
        flat.append(
            {
                "name": device.get("name"),
                "path": device.get("path"),
                "size_bytes": int(device.get("size") or 0),
                "type": device.get("type"),
                "mountpoint": device.get("mountpoint"),
                "fstype": device.get("fstype"),
            }
        )
        stack.extend(reversed(device.get("children") or []))
    return flat


def parse_df(text: str) -> list[Filesystem]:
    """`df -PTB1` rows: device, type, size, used, available, capacity, mountpoint (spaces ok)."""
    filesystems = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 7 or not all(f.isdigit() for f in fields[2:5]):
            raise FactError(f"unexpected df line {line.strip()!r}")
        device, fstype, size, used, available = fields[:5]
        filesystems.append(
            Filesystem(
                mountpoint=" ".join(fields[6:]),
                filesystem=fstype,
                device=device,
                size_bytes=int(size),
                used_bytes=int(used),
                free_bytes=int(available),
            )
        )
    return filesystems


def parse_ss(text: str) -> list[dict[str, Any]]:
    """Listening TCP sockets from `ss -Htlnp`: one entry per (address, port), process named."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 5 or fields[0] != "LISTEN":
            raise FactError(f"unexpected ss line {line.strip()!r}")
        address, port = split_address(fields[3])
        process = _PROCESS.search(line)
        entry = {
            "port": port,
            "protocol": "tcp",
            "address": address,
            "process": process.group(1) if process else None,
        }
        found.setdefault((address, port), entry)
    return sorted(found.values(), key=lambda e: (e["port"], e["address"]))


def split_address(text: str) -> tuple[str, int]:
    """`0.0.0.0:22`, `[::]:22`, `*:22`, `127.0.0.53%lo:53` → (address, port)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]").split("%", 1)[0]
    if not port.isdigit():
        raise FactError(f"unexpected socket address {text!r}")
    return ("0.0.0.0" if host == "*" else host), int(port)


def parse_certificate_dump(text: str) -> list[CertificateFile]:
    """The `==> path` headers and PEM certificate blocks that awk printed for each file.

    `find` and `awk` error lines are judged by `certificate_errors`; a path that does not
    exist on this host is normal across a fleet and is not an error.
    """
    chunks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith(FILE_MARK):
            chunks.append((line[len(FILE_MARK) :], []))
        elif chunks:
            chunks[-1][1].append(line)
    files = [
        CertificateFile(path, _PEM.findall("\n".join(lines).encode())) for path, lines in chunks
    ]
    return [f for f in files if f.pem_blocks]


def certificate_errors(output: Output) -> list[str]:
    """Lines saying a configured path could not be read (missing paths excepted)."""
    errors = []
    for line in output.text.splitlines():
        if line.startswith(("find: ", "awk: ")) and "No such file or directory" not in line:
            errors.append(line.strip())
    if output.status not in (0, 1):
        errors.append(f"`{output.command}` failed (exit {output.status})")
    return errors


def backup_listing_command(command: str | None, path: str | None) -> str | None:
    """A declared backup as the command to run: the command itself, or `find` listing the
    files of the glob `path` in the form `parse_backup_listing` reads; None when neither."""
    if command is not None:
        return command
    if path is None:
        return None
    directory, pattern = posixpath.split(path)
    return (
        f"find {shlex.quote(directory)} -maxdepth 1 -type f -name {shlex.quote(pattern)} "
        "-printf '%T@ %s %p\\n'"
    )


def parse_backup_listing(text: str) -> BackupFound | None:
    """The newest file of `find -printf '%T@ %s %p\\n'` (modification time, size, path)."""
    newest: tuple[float, int, str] | None = None
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) != 3:
            raise FactError(f"unexpected backup listing line {line.strip()!r}")
        entry = (float(parts[0]), int(parts[1]), parts[2])
        if newest is None or entry[0] > newest[0]:
            newest = entry
    if newest is None:
        return None
    return BackupFound(_epoch(newest[0]), location=newest[2], size_bytes=newest[1])


def parse_backup_command(text: str) -> BackupFound | None:
    """First word of the first line: ISO 8601 or Unix seconds; nothing printed = no backup."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    word = lines[0].split()[0]
    try:
        return BackupFound(_epoch(float(word)))
    except ValueError:
        pass
    try:
        parsed = parse_instant(word)
    except ValueError:
        raise FactError(
            f"the backup command printed {word!r}; it must print the newest backup's time "
            "(ISO 8601 or Unix seconds) first"
        ) from None
    return BackupFound(iso(parsed) or "")


RESTORE_SUCCESS = frozenset({"ok", "success", "succeeded", "successful", "passed", "completed"})
_MISSING_FILE = "No such file or directory"


def parse_restore_file(output: Output) -> RestoreFound:
    """`cat FILE` of the restore evidence file; a missing file means no restore on record."""
    if output.status != 0 and _MISSING_FILE in output.text:
        return RestoreFound()
    return parse_restore_log(output.ok())


def parse_restore_log(text: str) -> RestoreFound:
    """Lines of `TIME [STATUS]`: the newest successful time (a line without STATUS succeeded).

    An unreadable time fails the evidence (unknown), never skips a line: a skipped line could
    be the one success that matters."""
    newest: datetime | None = None
    entries = 0
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        entries += 1
        when = _restore_time(words[0], number)
        if len(words) > 1 and words[1].lower().rstrip(":,") not in RESTORE_SUCCESS:
            continue  # a failed drill
        if newest is None or when > newest:
            newest = when
    return RestoreFound(iso(newest) if newest else None, entries)


def _restore_time(word: str, number: int) -> datetime:
    try:
        return datetime.fromtimestamp(float(word), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        return parse_instant(word)
    except ValueError:
        raise FactError(
            f"restore evidence line {number} starts with {word!r}; each line must start with "
            "the restore's time (ISO 8601 or Unix seconds), then optionally ok or failed"
        ) from None


def _epoch(seconds: float) -> str:
    return iso(datetime.fromtimestamp(seconds, UTC)) or ""
