"""deploy/systemd: the units pass `systemd-analyze verify` and stay hardened.

`verify` insists that ExecStart's binary exists, so the units are checked inside a temporary
root holding the host's unit library, the units and a stand-in /opt/vigil/bin/vigil.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.helpers import DEPLOY, require_tool

UNITS = ("vigil.service", "vigil-dashboard.service", "vigil-worker@9465.service")
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def unit_file(unit: str) -> str:
    """The file a unit comes from: an instance such as vigil-worker@9465 from its template."""
    name, at, _ = unit.partition("@")
    return f"{name}@.service" if at else unit


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with the units installed and the binary their ExecStart names."""
    require_tool("systemd-analyze")
    binary = tmp_path / "opt/vigil/bin/vigil"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    shutil.copytree(SYSTEM_UNITS, tmp_path / "usr/lib/systemd/system", symlinks=True)
    installed = tmp_path / "etc/systemd/system"
    installed.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(DEPLOY / "systemd" / unit_file(unit), installed / unit_file(unit))
    return tmp_path


def analyze(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", f"--root={root}", *args],
        cwd=root / "etc/systemd/system",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_units_verify_without_a_warning(root: Path) -> None:
    result = analyze(root, "--man=no", "verify", *UNITS)
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == "", "verify printed warnings (unknown keys?)"


def test_verify_catches_a_missing_binary(root: Path) -> None:
    """The check above is real: without the binary the same units fail."""
    (root / "opt/vigil/bin/vigil").unlink()
    result = analyze(root, "--man=no", "verify", "vigil.service")
    assert result.returncode != 0
    assert "/opt/vigil/bin/vigil" in result.stderr


@pytest.mark.parametrize("unit", UNITS)
def test_exposure_stays_low(root: Path, unit: str) -> None:
    """`systemd-analyze security` rates the sandbox; 2.0 or less is what the units promise."""
    result = analyze(root, "security", "--offline=yes", "--threshold=20", unit)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Overall exposure level" in result.stdout


@pytest.mark.parametrize("unit", UNITS)
def test_units_read_secrets_from_an_environment_file_and_share_one_user(unit: str) -> None:
    text = (DEPLOY / "systemd" / unit_file(unit)).read_text()
    for setting in (
        "DynamicUser=yes",
        "User=vigil",
        "StateDirectory=vigil",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "EnvironmentFile=-/etc/vigil/vigil.env",
    ):
        assert setting in text, setting


def test_the_worker_template_runs_workers_with_the_daemons_config_and_grace() -> None:
    """One instance per worker, its instance the port of its own /metrics on loopback; a
    config error stops it for good, anything else restarts it; 20 s to stop after SIGTERM."""
    text = (DEPLOY / "systemd" / "vigil-worker@.service").read_text()
    daemon = (DEPLOY / "systemd" / "vigil.service").read_text()
    (start,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert start.endswith(" worker --log-format json --metrics 127.0.0.1:%i")
    assert "--config /etc/vigil/vigil.yaml" in start and "--config /etc/vigil/vigil.yaml" in daemon
    assert "RestartPreventExitStatus=2" in text and "Restart=on-failure" in text
    assert "TimeoutStopSec=20s" in text
    assert "Environment=VIGIL_DATABASE_URL" not in text  # no SQLite default: queue needs PostgreSQL
    # The sandbox is the daemon's, line for line.
    assert text[text.index("# Hardening") :] == daemon[daemon.index("# Hardening") :]
