"""Serving the Streamlit dashboard: the command line, its environment and its login secrets.

Streamlit reads its OIDC settings from the `[auth]` table of a secrets.toml. Vigil's config is
the one place users write them, so `secrets_toml()` renders that table from `dashboard:` and
`write_secrets()` puts it in a private file for `streamlit run --secrets.files` (see
docs/dashboard.md). `vigil dashboard` and `vigil demo --serve` both start it through `serve()`,
which refuses to serve beyond loopback without a login (`check_exposure`).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from vigil.app.config import VigilConfig
from vigil.core.errors import InputError

CALLBACK_PATH = "/oauth2callback"


def app_path() -> Path:
    """dashboard/app.py of the installed distribution, found without importing Streamlit."""
    spec = importlib.util.find_spec("dashboard")
    if spec is None or spec.origin is None:  # pragma: no cover - a broken installation
        raise RuntimeError("the dashboard package is not installed with Vigil")
    return Path(spec.origin).parent / "app.py"


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to `address` listens on this machine only."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address((address or "").strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


def check_exposure(config: VigilConfig | None, address: str, *, allow_no_login: bool) -> None:
    """Refuse to serve the inventory beyond loopback to visitors who need no login.

    `allow_no_login` is the explicit exception for a bind that only looks wide: a container's
    0.0.0.0 whose port is published on the host's loopback (deploy/compose.yaml).
    """
    if is_loopback(address) or allow_no_login or (config is not None and config.dashboard.oidc):
        return
    raise InputError(
        f"--address {address} would serve the inventory to anyone who can reach it: "
        "no login is configured",
        fix="configure dashboard.oidc and dashboard.access in vigil.yaml (docs/dashboard.md), "
        "bind 127.0.0.1 and reach it through an SSH tunnel or `kubectl port-forward`, or pass "
        "--allow-no-login if something else restricts who reaches that address",
    )


def auth_table(config: VigilConfig) -> dict[str, str]:
    """The `[auth]` table Streamlit expects, from `dashboard.url` and `dashboard.oidc`."""
    oidc = dict(config.dashboard.oidc)
    return {
        "redirect_uri": config.dashboard.url.rstrip("/") + CALLBACK_PATH,
        # A fresh secret per start is safe; it only logs everyone out on restart.
        "cookie_secret": oidc.pop("cookie_secret", "") or secrets.token_urlsafe(32),
        **oidc,
    }


def secrets_toml(config: VigilConfig) -> str:
    """secrets.toml text with the `[auth]` table (TOML basic strings are JSON strings)."""
    lines = ["[auth]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in auth_table(config).items()]
    return "\n".join(lines) + "\n"


def write_secrets(config: VigilConfig, directory: Path) -> Path:
    """Write secrets.toml, readable by its owner only, into `directory`; returns its path."""
    path = directory / "secrets.toml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets_toml(config))
    return path


def serve(
    config: VigilConfig | None,
    *,
    database_url: str,
    config_path: Path | None,
    address: str,
    port: int,
    announce: Callable[[str], None],
    allow_no_login: bool = False,
) -> int:
    """Run `streamlit run dashboard/app.py` until it exits; returns its exit code."""
    check_exposure(config, address, allow_no_login=allow_no_login)
    env = {**os.environ, "VIGIL_DATABASE_URL": database_url}
    if config_path is not None:
        env["VIGIL_CONFIG"] = str(config_path.resolve())
    command = [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    oidc = config is not None and bool(config.dashboard.oidc)
    with tempfile.TemporaryDirectory(prefix="vigil-dashboard-") as private:
        if config is not None and oidc:
            # Streamlit reads OIDC settings only from a secrets file: a private one per start.
            command += ["--secrets.files", str(write_secrets(config, Path(private)))]
        login = "OIDC login" if oidc else "no login configured"
        announce(f"dashboard on http://{address}:{port} ({login}; Ctrl-C to stop)")
        return _run_until_stopped(command, env)


def _run_until_stopped(command: list[str], env: dict[str, str]) -> int:
    """Run Streamlit; a SIGTERM to `vigil dashboard` (systemd, a test) stops it too."""
    process = subprocess.Popen(command, env=env)
    stopped: list[bool] = []

    def on_sigterm(*_: object) -> None:
        stopped.append(True)
        _stop(process)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        code = process.wait()
        return 0 if stopped else code
    except KeyboardInterrupt:  # the terminal sent SIGINT to Streamlit as well
        _stop(process)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # Streamlit can hang on open websockets
        process.kill()
        process.wait()
