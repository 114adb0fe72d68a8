"""Evidence packs: every format in one zip, with a hashed manifest, a signature and a chain.

`manifest.json` lists each file's SHA-256 and size, the report's parameters and summary,
Vigil's version, and the SHA-256 of the previous pack's manifest (the chain is kept in
storage, table `report_packs`). With `reports.signing_key` configured, `manifest.sig`
holds an Ed25519 signature of the exact bytes of `manifest.json`. `verify_pack` checks
all three and names every file, digest, key or link that does not match.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from storage import report_packs
from storage.db import Database
from vigil import __version__
from vigil.app.reports import csv_json
from vigil.app.reports.contents import FORMATS, Report
from vigil.app.reports.formats import FILE_NAMES, WRITERS, write_file
from vigil.core.errors import InputError
from vigil.core.model import iso

PACK_FORMAT = "vigil-evidence-pack/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
TABLES: dict[str, Callable[[Report, TextIO], int]] = {
    "inventory.csv": csv_json.write_inventory_csv,
    "findings.csv": csv_json.write_findings_csv,
    "changes.csv": csv_json.write_changes_csv,
    "exceptions.csv": csv_json.write_exceptions_csv,
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a key: the first 16 hex digits of its raw bytes' SHA-256."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def load_signing_key(path: str, *, config_path: str | None = None) -> Ed25519PrivateKey:
    """The Ed25519 private key at `path` (PKCS#8 PEM, unencrypted); InputError otherwise."""
    where = f"{config_path}: reports.signing_key" if config_path else "reports.signing_key"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(
            f"{where}: cannot read the signing key {path}: {exc.strerror}",
            fix="point reports.signing_key at an Ed25519 private key PEM file",
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{where}: {path} is not an unencrypted PEM private key ({exc})",
            fix="create one with `openssl genpkey -algorithm ed25519 -out pack.pem`",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(
            f"{where}: {path} holds a {type(key).__name__}, not an Ed25519 key",
            fix="create one with `openssl genpkey -algorithm ed25519 -out pack.pem`",
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key PEM (or the public half of a private key PEM)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the public key: {exc.strerror}", path=str(path)) from None
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise InputError(
                "not a PEM public key", path=str(path), fix="pass the Ed25519 public key PEM"
            ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("not an Ed25519 key", path=str(path), fix="pass the pack signing key")
    return key


@dataclass(frozen=True)
class PackResult:
    """What `build_pack` wrote."""

    path: Path
    manifest_sha256: str
    previous_sha256: str | None
    files: list[dict[str, Any]]
    key_id: str | None


def build_pack(
    report: Report,
    db: Database,
    out: Path,
    *,
    now: datetime,
    signing_key: Ed25519PrivateKey | None = None,
) -> PackResult:
    """Render every format and table, then zip them with the manifest and record the link."""
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".vigil-pack-") as work:
        folder = Path(work)
        for fmt in FORMATS:
            writer, binary = WRITERS[fmt]
            write_file(folder / FILE_NAMES[fmt], writer, report, binary=binary)
        for name, table in TABLES.items():
            write_file(folder / name, table, report, binary=False)
        files = [
            {"path": p.name, "sha256": _file_sha256(p), "bytes": p.stat().st_size}
            for p in sorted(folder.iterdir())
        ]
        return _seal(report, db, out, folder, files, now, signing_key)


def _seal(
    report: Report,
    db: Database,
    out: Path,
    folder: Path,
    files: list[dict[str, Any]],
    now: datetime,
    signing_key: Ed25519PrivateKey | None,
) -> PackResult:
    public = signing_key.public_key() if signing_key else None
    with db.begin() as conn:
        latest = report_packs.latest(conn)
        previous = latest.manifest_sha256 if latest else None
        manifest = {
            "format": PACK_FORMAT,
            "vigil_version": __version__,
            "created_at": iso(now),
            "parameters": report.params.to_dict(),
            "summary": report.totals(),
            "files": files,
            "previous_manifest_sha256": previous,
            "signing_key": _key_block(public) if public else None,
        }
        body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        digest = sha256_hex(body)
        staging = folder / "pack.zip"
        with zipfile.ZipFile(staging, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, body)
            if signing_key is not None:
                archive.writestr(SIGNATURE, base64.b64encode(signing_key.sign(body)) + b"\n")
            for entry in files:
                archive.write(folder / entry["path"], entry["path"])
        report_packs.record(
            conn,
            manifest_sha256=digest,
            previous_sha256=previous,
            created_at=now,
            file_name=out.name,
            key_id=key_id(public) if public else None,
        )
        # Moved into place inside the transaction: if the move fails, the link is not kept.
        staging.replace(out)
    return PackResult(out, digest, previous, files, key_id(public) if public else None)


def _key_block(public: Ed25519PublicKey) -> dict[str, str]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "algorithm": "ed25519",
        "key_id": key_id(public),
        "public_key": base64.b64encode(raw).decode(),
    }


# -- verify ---------------------------------------------------------------------------------


@dataclass
class Verification:
    """What `verify_pack` found: problems (the pack is not intact) and notes (what it did)."""

    manifest_sha256: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_pack(
    path: Path,
    *,
    trusted_key: Ed25519PublicKey | None = None,
    db: Database | None = None,
    previous: Path | None = None,
) -> Verification:
    """Check file hashes, the signature and the chain of the pack at `path`."""
    result = Verification()
    with _open_zip(path) as archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            result.problems.append(f"{MANIFEST} is missing: nothing in the pack can be checked")
            return result
        body = archive.read(MANIFEST)
        result.manifest_sha256 = sha256_hex(body)
        try:
            manifest = json.loads(body)
        except ValueError as exc:
            result.problems.append(f"{MANIFEST} is not valid JSON: {exc}")
            return result
        if not _well_formed(manifest, result):
            return result
        _check_duplicates(archive, result)
        _check_files(archive, names, manifest, result)
        _check_signature(archive, names, body, manifest, trusted_key, result)
    _check_chain(manifest, result, db, previous)
    return result


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except (zipfile.BadZipFile, IsADirectoryError):
        raise InputError(
            "not a zip file", path=str(path), fix="pass a pack made by `vigil report pack`"
        ) from None


def _well_formed(manifest: Any, result: Verification) -> bool:
    """Whether the manifest has the shape a pack's has (an edited one may not)."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    entries_ok = isinstance(files, list) and all(
        isinstance(e, dict) and isinstance(e.get("path"), str) for e in files
    )
    if not entries_ok:
        result.problems.append(
            f"{MANIFEST} is not a pack manifest: it needs a `files` list of entries "
            "with a `path` and a `sha256`"
        )
        return False
    if manifest.get("signing_key") is not None and not isinstance(manifest["signing_key"], dict):
        result.problems.append(f"{MANIFEST} is not a pack manifest: `signing_key` is malformed")
        return False
    return True


def _check_duplicates(archive: zipfile.ZipFile, result: Verification) -> None:
    # A zip may hold two entries under one name: the checks here read the last, an unzip
    # tool may extract the first. A pack never has two, so either could be a substitute.
    counts: dict[str, int] = {}
    for name in archive.namelist():
        counts[name] = counts.get(name, 0) + 1
    for name, count in sorted(counts.items()):
        if count > 1:
            result.problems.append(f"duplicate file: {name} is in the pack {count} times")


def _check_files(
    archive: zipfile.ZipFile, names: set[str], manifest: dict[str, Any], result: Verification
) -> None:
    listed = {entry["path"]: entry for entry in manifest.get("files", [])}
    for name, entry in sorted(listed.items()):
        if name not in names:
            result.problems.append(
                f"missing file: {name} is listed in {MANIFEST} but not in the pack"
            )
            continue
        actual = sha256_hex(archive.read(name))
        if actual != entry.get("sha256"):
            result.problems.append(
                f"changed file: {name} has SHA-256 {actual}, {MANIFEST} says {entry.get('sha256')}"
            )
    for name in sorted(names - set(listed) - {MANIFEST, SIGNATURE}):
        result.problems.append(f"unexpected file: {name} is in the pack but not in {MANIFEST}")
    if not result.problems:
        result.notes.append(f"{len(listed)} files match their SHA-256 in {MANIFEST}")


def _check_signature(
    archive: zipfile.ZipFile,
    names: set[str],
    body: bytes,
    manifest: dict[str, Any],
    trusted: Ed25519PublicKey | None,
    result: Verification,
) -> None:
    block = manifest.get("signing_key") or None
    if SIGNATURE not in names:
        if block:
            result.problems.append(
                f"{SIGNATURE} is missing, but {MANIFEST} says key {block.get('key_id')} signed it"
            )
        elif trusted is not None:
            result.problems.append(
                f"the pack is not signed, but key {key_id(trusted)} is expected to sign packs"
            )
        else:
            result.notes.append("the pack is not signed")
        return
    key = trusted or _embedded_key(block, result)
    if key is None:
        return
    if block and block.get("key_id") != key_id(key):
        result.problems.append(
            f"signed by key {block.get('key_id')}, but the trusted key is {key_id(key)}"
        )
        return
    try:
        key.verify(base64.b64decode(archive.read(SIGNATURE), validate=False), body)
    except (InvalidSignature, ValueError):
        result.problems.append(
            f"bad signature: {SIGNATURE} does not match {MANIFEST} for key {key_id(key)}"
        )
        return
    source = "the trusted key" if trusted else "the key named in the manifest (pass --public-key"
    result.notes.append(
        f"signature valid: key {key_id(key)}, "
        + (source if trusted else source + " to check it is yours)")
    )


def _embedded_key(block: dict[str, Any] | None, result: Verification) -> Ed25519PublicKey | None:
    try:
        raw = base64.b64decode((block or {})["public_key"])
        return Ed25519PublicKey.from_public_bytes(raw)
    except (KeyError, ValueError, TypeError):
        result.problems.append(f"{SIGNATURE} is present but {MANIFEST} names no valid signing key")
        return None


def _check_chain(
    manifest: dict[str, Any], result: Verification, db: Database | None, previous: Path | None
) -> None:
    claimed = manifest.get("previous_manifest_sha256")
    if previous is not None:
        with _open_zip(previous) as archive:
            try:
                before = sha256_hex(archive.read(MANIFEST))
            except KeyError:
                before = None
        if before != claimed:
            result.problems.append(
                f"chain: {MANIFEST} names previous manifest {claimed}, but {previous.name}'s "
                f"manifest has SHA-256 {before}"
            )
    if db is None:
        result.notes.append("chain not checked against storage")
        return
    _check_stored_chain(db, claimed, result)


def _check_stored_chain(db: Database, claimed: str | None, result: Verification) -> None:
    digest = result.manifest_sha256 or ""
    recorded = report_packs.find(db, digest)
    if recorded is None:
        result.problems.append(
            f"chain: this pack's manifest (SHA-256 {digest}) is not recorded in storage; "
            "it was changed, or made against another database"
        )
    elif recorded.previous_sha256 != claimed:
        result.problems.append(
            f"chain: {MANIFEST} names previous manifest {claimed}, storage recorded "
            f"{recorded.previous_sha256}"
        )
    if claimed is not None and report_packs.find(db, claimed) is None:
        result.problems.append(
            f"chain broken: the previous manifest {claimed} is not recorded in storage"
        )
    if not any(p.startswith("chain") for p in result.problems):
        position = "the first pack" if claimed is None else f"follows {claimed[:16]}"
        result.notes.append(f"chain intact in storage: {position}")
