"""Evidence packs: contents, manifest, chain, signature, and verify naming what differs."""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from storage.db import Database
from storage.report_packs import report_packs
from tests.app.reports.seed import T2
from vigil import __version__
from vigil.app.reports.contents import Report
from vigil.app.reports.pack import MANIFEST, SIGNATURE, build_pack, sha256_hex, verify_pack

EXPECTED_FILES = {
    "report.html",
    "report.pdf",
    "report.csv",
    "report.json",
    "report.ocsf.json",
    "report.sarif",
    "inventory.csv",
    "findings.csv",
    "changes.csv",
    "exceptions.csv",
}


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def make(report: Report, db: Database, out: Path, key: Ed25519PrivateKey | None = None) -> Path:
    build_pack(report, db, out, now=T2, signing_key=key)
    return out


def rewrite(pack: Path, out: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """A copy of `pack` with each member passed through `change` (None drops it)."""
    with zipfile.ZipFile(pack) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = change(name, source.read(name))
            if data is not None:
                target.writestr(name, data)
    return out


def test_pack_holds_every_format_and_a_manifest_of_their_hashes(
    report: Report, sqlite_db: Database, tmp_path: Path
) -> None:
    pack = make(report, sqlite_db, tmp_path / "pack.zip")
    with zipfile.ZipFile(pack) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read(MANIFEST))
        for entry in manifest["files"]:
            assert sha256_hex(archive.read(entry["path"])) == entry["sha256"]
    assert names == EXPECTED_FILES | {MANIFEST}
    assert {e["path"] for e in manifest["files"]} == EXPECTED_FILES
    assert manifest["vigil_version"] == __version__
    assert manifest["parameters"]["as_of"] == "2025-06-04T12:00:00Z"
    assert manifest["previous_manifest_sha256"] is None
    assert verify_pack(pack, db=sqlite_db).intact


def test_each_pack_names_the_previous_manifest(
    report: Report, sqlite_db: Database, tmp_path: Path
) -> None:
    first = make(report, sqlite_db, tmp_path / "first.zip")
    second = make(report, sqlite_db, tmp_path / "second.zip")
    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        assert json.loads(b.read(MANIFEST))["previous_manifest_sha256"] == sha256_hex(
            a.read(MANIFEST)
        )
    result = verify_pack(second, db=sqlite_db, previous=first)
    assert result.intact, result.problems


def test_verify_names_a_changed_byte(report: Report, sqlite_db: Database, tmp_path: Path) -> None:
    pack = make(report, sqlite_db, tmp_path / "pack.zip")

    def flip(name: str, data: bytes) -> bytes:
        if name != "report.csv":
            return data
        return data[:100] + bytes([data[100] ^ 1]) + data[101:]

    result = verify_pack(rewrite(pack, tmp_path / "changed.zip", flip), db=sqlite_db)
    assert len(result.problems) == 1
    assert result.problems[0].startswith("changed file: report.csv has SHA-256 ")


def test_verify_names_a_missing_and_an_added_file(
    report: Report, sqlite_db: Database, tmp_path: Path
) -> None:
    pack = make(report, sqlite_db, tmp_path / "pack.zip")
    dropped = rewrite(
        pack, tmp_path / "dropped.zip", lambda n, d: None if n == "findings.csv" else d
    )
    result = verify_pack(dropped, db=sqlite_db)
    assert result.problems == [
        "missing file: findings.csv is listed in manifest.json but not in the pack"
    ]
    with zipfile.ZipFile(dropped, "a") as archive:
        archive.writestr("extra.txt", b"hello")
    assert "unexpected file: extra.txt is in the pack but not in manifest.json" in (
        verify_pack(dropped, db=sqlite_db).problems
    )


def test_verify_names_a_second_copy_of_a_file(
    report: Report, sqlite_db: Database, tmp_path: Path
) -> None:
    pack = make(report, sqlite_db, tmp_path / "pack.zip")
    with zipfile.ZipFile(pack) as source:
        original = source.read("report.csv")
    # The checks read one copy, `unzip` may extract the other: never intact.
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(pack, "a") as archive:
        archive.writestr("report.csv", original.replace(b"fail", b"pass"))
    with zipfile.ZipFile(pack, "a") as archive, pytest.warns(UserWarning):
        archive.writestr("report.csv", original)  # the last copy is the genuine one again
    result = verify_pack(pack, db=sqlite_db)
    assert result.problems == ["duplicate file: report.csv is in the pack 3 times"]


@pytest.mark.parametrize(
    "manifest",
    [b"[]", b'{"files": "report.csv"}', b'{"files": [{"sha256": "00"}]}', b'{"files": [],'
     b' "signing_key": "me"}'],
)  # fmt: skip
def test_verify_reports_a_malformed_manifest_instead_of_crashing(
    manifest: bytes, report: Report, sqlite_db: Database, tmp_path: Path
) -> None:
    pack = make(report, sqlite_db, tmp_path / "pack.zip")
    edited = rewrite(pack, tmp_path / "edited.zip", lambda n, d: manifest if n == MANIFEST else d)
    result = verify_pack(edited, db=sqlite_db)
    assert not result.intact
    assert result.problems[0].startswith("manifest.json is not a pack manifest")


def test_verify_detects_a_broken_chain(report: Report, sqlite_db: Database, tmp_path: Path) -> None:
    first = make(report, sqlite_db, tmp_path / "first.zip")
    second = make(report, sqlite_db, tmp_path / "second.zip")
    other = make(report, sqlite_db, tmp_path / "third.zip")

    wrong = verify_pack(second, db=sqlite_db, previous=other)
    assert any(p.startswith("chain: manifest.json names previous manifest") for p in wrong.problems)

    with zipfile.ZipFile(first) as archive:
        first_digest = sha256_hex(archive.read(MANIFEST))
    with sqlite_db.begin() as conn:  # someone removes the first pack from the record
        conn.execute(report_packs.delete().where(report_packs.c.manifest_sha256 == first_digest))
    result = verify_pack(second, db=sqlite_db)
    assert result.problems == [
        f"chain broken: the previous manifest {first_digest} is not recorded in storage"
    ]


def test_verify_detects_a_rewritten_manifest(
    report: Report, sqlite_db: Database, tmp_path: Path
) -> None:
    pack = make(report, sqlite_db, tmp_path / "pack.zip")

    def forge(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        manifest["summary"]["open_findings"] = 0
        return json.dumps(manifest).encode()

    result = verify_pack(rewrite(pack, tmp_path / "forged.zip", forge), db=sqlite_db)
    assert any("is not recorded in storage" in p for p in result.problems)


def test_signed_pack_verifies_and_a_bad_signature_is_named(
    report: Report, sqlite_db: Database, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    pack = make(report, sqlite_db, tmp_path / "signed.zip", key)
    good = verify_pack(pack, trusted_key=key.public_key(), db=sqlite_db)
    assert good.intact and any(n.startswith("signature valid") for n in good.notes)

    intruder = Ed25519PrivateKey.generate()

    def resign(name: str, data: bytes) -> bytes:
        if name != SIGNATURE:
            return data
        with zipfile.ZipFile(pack) as archive:
            return base64.b64encode(intruder.sign(archive.read(MANIFEST)))

    result = verify_pack(rewrite(pack, tmp_path / "resigned.zip", resign), db=sqlite_db)
    assert len(result.problems) == 1 and result.problems[0].startswith("bad signature:")

    stripped = rewrite(pack, tmp_path / "stripped.zip", lambda n, d: None if n == SIGNATURE else d)
    [problem] = verify_pack(stripped, db=sqlite_db).problems
    assert problem.startswith("manifest.sig is missing")


def test_unsigned_pack_fails_when_a_key_is_expected(
    report: Report, sqlite_db: Database, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    pack = make(report, sqlite_db, tmp_path / "pack.zip")
    [problem] = verify_pack(pack, trusted_key=key.public_key(), db=sqlite_db).problems
    assert problem.startswith("the pack is not signed")


def test_secrets_never_reach_the_pack(
    report: Report, sqlite_db: Database, tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    pack = make(report, sqlite_db, tmp_path / "pack.zip", key)
    private = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with zipfile.ZipFile(pack) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            assert private not in data and base64.b64encode(private) not in data
            assert pem not in data and str(sqlite_db.url).encode() not in data


def test_two_packs_cannot_claim_the_same_predecessor(
    report: Report, sqlite_db: Database, tmp_path: Path
) -> None:
    make(report, sqlite_db, tmp_path / "first.zip")
    with sqlite_db.connect() as conn:
        row = conn.execute(sa.select(report_packs)).mappings().one()
    with pytest.raises(sa.exc.IntegrityError), sqlite_db.begin() as conn:
        conn.execute(
            report_packs.insert().values(
                manifest_sha256="f" * 64, previous_sha256=None, created_at=T2, file_name="x"
            )
        )
        conn.execute(
            report_packs.insert().values(
                manifest_sha256="e" * 64,
                previous_sha256=row["manifest_sha256"],
                created_at=T2,
                file_name="y",
            )
        )
        conn.execute(
            report_packs.insert().values(
                manifest_sha256="d" * 64,
                previous_sha256=row["manifest_sha256"],
                created_at=T2,
                file_name="z",
            )
        )
