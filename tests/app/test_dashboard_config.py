"""dashboard.oidc needs dashboard.access, and the dashboard never leaves loopback without a login.

Through the real `vigil` command: a config that would let anyone in exits 2, names the file and
the line, and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.cli import VigilCli
from vigil.app.config import parse_config
from vigil.app.dashboard import check_exposure, is_loopback
from vigil.core.errors import InputError

OIDC = """\
dashboard:
  url: https://vigil.example.com
  oidc:
    server_metadata_url: https://accounts.google.com/.well-known/openid-configuration
    client_id: vigil
    client_secret: ${VIGIL_TEST_OIDC_SECRET}
"""
SECRET = {"VIGIL_TEST_OIDC_SECRET": "hunter2-oidc"}
OIDC_KEYS = {
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
    "client_id": "vigil",
    "client_secret": "${VIGIL_TEST_OIDC_SECRET}",
}


def write(cwd: Path, text: str) -> Path:
    path = cwd / "vigil.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("access", "command"),
    [
        ("", ["dashboard"]),
        ("  access: {}\n", ["dashboard"]),
        ("  access:\n    emails: []\n    allow_any_authenticated: false\n", ["findings"]),
    ],
    ids=["no access", "empty access", "empty lists"],
)
def test_oidc_without_an_allow_list_exits_2_naming_file_and_line(
    vigil_cli: VigilCli, access: str, command: list[str]
) -> None:
    path = write(vigil_cli.cwd, OIDC + access)
    result = vigil_cli(*command, env=SECRET, timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{path.name}:3:" in result.stderr  # the line of `oidc:`
    assert "dashboard.access" in result.stderr and "allow_any_authenticated: true" in result.stderr
    assert "hunter2-oidc" not in result.stderr + result.stdout
    assert not vigil_cli.database_path.exists()


def test_access_without_oidc_is_an_error_not_a_false_sense_of_safety(vigil_cli: VigilCli) -> None:
    write(vigil_cli.cwd, "dashboard:\n  access:\n    domains: [example.com]\n")
    result = vigil_cli("findings", timeout=60)
    assert result.returncode == 2
    assert "vigil.yaml:1:" in result.stderr and "restricts nothing" in result.stderr
    assert not vigil_cli.database_path.exists()


def test_an_explicit_allow_any_authenticated_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_TEST_OIDC_SECRET", "x")
    access = {"allow_any_authenticated": True}
    config = parse_config({"dashboard": {"oidc": OIDC_KEYS, "access": access}})
    assert config.dashboard.access is not None
    assert config.dashboard.access.allow_any_authenticated


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.0.0.5", "vigil.example.com"])
def test_serving_beyond_loopback_without_a_login_exits_2(vigil_cli: VigilCli, address: str) -> None:
    result = vigil_cli("dashboard", "--address", address, timeout=60)
    assert result.returncode == 2
    assert f"--address {address} would serve the inventory" in result.stderr
    assert "dashboard.oidc" in result.stderr and "--allow-no-login" in result.stderr
    assert not vigil_cli.database_path.exists()


def test_loopback_a_login_or_an_explicit_exception_may_be_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIGIL_TEST_OIDC_SECRET", "x")
    access = {"domains": ["example.com"]}
    with_login = parse_config({"dashboard": {"oidc": OIDC_KEYS, "access": access}})
    for address in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(address)
        check_exposure(None, address, allow_no_login=False)
    check_exposure(with_login, "0.0.0.0", allow_no_login=False)
    check_exposure(None, "0.0.0.0", allow_no_login=True)
    with pytest.raises(InputError):
        check_exposure(parse_config({}), "0.0.0.0", allow_no_login=False)
    assert not is_loopback("localhost.evil.org") and not is_loopback("1270.0.0.1")
