"""`vigil report`, `report pack` and `report verify` as a user runs them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from storage.db import Database
from tests.app.reports.seed import EXPIRED_TITLE, seed
from tests.fixtures.cli import VigilCli


@pytest.fixture
def seeded(vigil_cli: VigilCli) -> VigilCli:
    database = Database(f"sqlite:///{vigil_cli.database_path}")
    seed(database)
    database.dispose()
    return vigil_cli


def configure_key(cli: VigilCli) -> Path:
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (cli.cwd / "pack.pem").write_bytes(key)
    config = "reports:\n  organization: Example Corp\n  signing_key: pack.pem\n"
    (cli.cwd / "vigil.yaml").write_text(config)
    return cli.cwd / "pack.pem"


@pytest.mark.slow
def test_report_writes_the_chosen_format(seeded: VigilCli) -> None:
    done = seeded("report", "--format", "html", "--out", "r.html", "--framework", "soc2")
    assert done.returncode == 0, done.stderr
    assert "2 open findings" in done.stdout and "1 incomplete scope(s)" in done.stdout
    page = (seeded.cwd / "r.html").read_text()
    assert EXPIRED_TITLE in page and "SOC 2" in page and "PCI DSS" not in page


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--format", "docx", "--out", "r.docx"), "unknown format 'docx'"),
        (("--format", "html", "--out", "r.html", "--framework", "nist"), "unknown framework"),
        (("--format", "html", "--out", "r.html", "--as-of", "yesterday"), "is not an ISO 8601"),
        (("--format", "html", "--out", "r.html", "--source", "nope"), "--source nope"),
        (("--format", "html", "--out", "missing/r.html"), "does not exist"),
        (
            (
                "--format",
                "html",
            ),
            "give --format and --out",
        ),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    seeded: VigilCli, args: tuple[str, ...], expected: str
) -> None:
    before = set(seeded.cwd.iterdir())
    done = seeded("report", *args)
    assert done.returncode == 2, done.stdout
    assert expected in done.stderr
    assert set(seeded.cwd.iterdir()) - before <= {
        seeded.cwd / "vigil.db-wal",
        seeded.cwd / "vigil.db-shm",
    }


@pytest.mark.slow
def test_pack_then_verify_signed_and_chained(seeded: VigilCli) -> None:
    configure_key(seeded)
    first = seeded("report", "pack", "--out", "first.zip")
    assert first.returncode == 0, first.stderr
    assert "signed by key" in first.stdout and "none (first pack)" in first.stdout
    second = seeded("report", "pack", "--out", "second.zip")
    assert second.returncode == 0, second.stderr

    verified = seeded("report", "verify", "second.zip", "--previous", "first.zip")
    assert verified.returncode == 0, verified.stdout
    assert "signature valid" in verified.stdout and verified.stdout.endswith("intact\n")


@pytest.mark.slow
def test_verify_exits_1_and_names_the_tampered_file(seeded: VigilCli) -> None:
    assert seeded("report", "pack", "--out", "pack.zip").returncode == 0
    tampered = seeded.cwd / "tampered.zip"
    with zipfile.ZipFile(seeded.cwd / "pack.zip") as source, zipfile.ZipFile(tampered, "w") as out:
        for name in source.namelist():
            data = source.read(name)
            out.writestr(
                name, data.replace(b"alice", b"mallory") if name == "report.json" else data
            )
    done = seeded("report", "verify", "tampered.zip")
    assert done.returncode == 1
    assert "MISMATCH: changed file: report.json" in done.stdout


def test_bad_signing_key_exits_2_and_writes_no_pack(seeded: VigilCli) -> None:
    key = configure_key(seeded)
    key.write_text("not a key")
    done = seeded("report", "pack", "--out", "pack.zip")
    assert done.returncode == 2
    assert "reports.signing_key" in done.stderr and "fix:" in done.stderr
    assert not (seeded.cwd / "pack.zip").exists()


def test_verify_of_a_non_zip_exits_2(seeded: VigilCli) -> None:
    (seeded.cwd / "x.zip").write_text("hello")
    done = seeded("report", "verify", "x.zip", "--no-storage")
    assert done.returncode == 2 and "not a zip file" in done.stderr


@pytest.mark.slow
def test_an_old_framework_id_gives_the_same_report_as_its_version(seeded: VigilCli) -> None:
    for framework in ("cis-aws", "cis-aws-3.0"):
        out = f"{framework}.json"
        done = seeded("report", "--format", "json", "--out", out, "--framework", framework)
        assert done.returncode == 0, done.stderr
    old, versioned = (
        json.loads((seeded.cwd / f"{name}.json").read_text()) for name in ("cis-aws", "cis-aws-3.0")
    )
    for section in ("controls", "findings", "summary"):  # the times differ by a second
        assert old[section] == versioned[section]
    assert old["report"]["frameworks"] == ["cis-aws-3.0"]
    controls = {c["control"]: c for c in versioned["controls"]}
    assert controls["5.2"]["status"] == "fail"
    assert controls["5.2"]["title"].startswith("Ensure no security groups allow ingress from 0.0")
    assert "4.10" not in controls
