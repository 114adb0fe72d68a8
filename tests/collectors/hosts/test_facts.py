"""Parsers of the read-only commands' output, on recorded output (pure)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from collectors.hosts.config import HostsSourceConfig
from collectors.hosts.facts import (
    FactError,
    Output,
    parse_backup_command,
    parse_backup_listing,
    parse_certificate_dump,
    parse_df,
    parse_lsblk,
    parse_ss,
    split_address,
)
from collectors.hosts.ssh import (
    certificate_command,
    commands,
    facts_from_outputs,
    script,
    split_sections,
)

DF = """Filesystem     Type     1-blocks        Used   Available Capacity Mounted on
/dev/vda       ext4 270553174016 27475062784 81469231104      26% /
/dev/sdb1      xfs    1063256064    33488896  1029767168       4% /srv/my data
"""

SS = (
    'LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:* users:(("systemd-resolve",pid=412,fd=14))\n'
    'LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=801,fd=3))\n'
    'LISTEN 0 511 0.0.0.0:443 0.0.0.0:* users:(("nginx",pid=9,fd=6),("nginx",pid=10,fd=6))\n'
    'LISTEN 0 128 [::]:22 [::]:* users:(("sshd",pid=801,fd=4))\n'
    "LISTEN 0      80                     *:3306            *:*\n"
)


def test_df_rows_become_filesystems_with_df_style_percent() -> None:
    root, data = parse_df(DF)
    assert (root.mountpoint, root.filesystem, root.device) == ("/", "ext4", "/dev/vda")
    assert root.used_percent == 25.2  # used / (used + available), reserved blocks excluded
    assert data.mountpoint == "/srv/my data" and data.free_bytes == 1029767168


def test_df_garbage_is_an_error_not_an_empty_list() -> None:
    with pytest.raises(FactError, match="unexpected df line"):
        parse_df("Filesystem ...\ndf: /proc/x: Permission denied\n")


def test_ss_gives_one_entry_per_address_and_port_with_the_process() -> None:
    ports = parse_ss(SS)
    assert [(p["address"], p["port"], p["process"]) for p in ports] == [
        ("0.0.0.0", 22, "sshd"),
        ("::", 22, "sshd"),
        ("127.0.0.53", 53, "systemd-resolve"),
        ("0.0.0.0", 443, "nginx"),
        ("0.0.0.0", 3306, None),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[::1]:631", ("::1", 631)),
        ("*:80", ("0.0.0.0", 80)),
        ("[fe80::1%eth0]:22", ("fe80::1", 22)),
    ],
)
def test_socket_addresses(text: str, expected: tuple[str, int]) -> None:
    assert split_address(text) == expected


def test_lsblk_children_are_flattened() -> None:
    text = (
        '{"blockdevices": [{"name": "sda", "path": "/dev/sda", "size": 100, "type": "disk",'
        ' "mountpoint": null, "fstype": null, "children": [{"name": "sda1", "path": "/dev/sda1",'
        ' "size": 90, "type": "part", "mountpoint": "/", "fstype": "ext4"}]}]}'
    )
    assert [(d["name"], d["mountpoint"]) for d in parse_lsblk(text)] == [
        ("sda", None),
        ("sda1", "/"),
    ]


def test_certificate_dump_keeps_only_certificate_blocks() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    text = f"==> /etc/nginx/a.pem\n{pem}\n{pem}\n==> /etc/nginx/empty.pem\n==> /etc/x.crt\n{pem}"
    files = parse_certificate_dump(text)
    assert [(f.path, len(f.pem_blocks)) for f in files] == [
        ("/etc/nginx/a.pem", 2),
        ("/etc/x.crt", 1),
    ]


def test_backup_listing_picks_the_newest_file() -> None:
    found = parse_backup_listing("1700000000.5 10 /b/old.tgz\n1800000000.0 20 /b/new file.tgz\n")
    assert found is not None
    assert (found.location, found.size_bytes, found.started_at) == (
        "/b/new file.tgz",
        20,
        "2027-01-15T08:00:00Z",
    )
    assert parse_backup_listing("") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-30T02:00:00Z snap-1\n", "2026-10-30T02:00:00Z"),
        ("1800000000\n", "2027-01-15T08:00:00Z"),
        ("2026-10-30T04:00:00+02:00", "2026-10-30T02:00:00Z"),
    ],
)
def test_backup_command_output(text: str, expected: str) -> None:
    found = parse_backup_command(text)
    assert found is not None and found.started_at == expected


def test_backup_command_printing_nonsense_is_an_error() -> None:
    with pytest.raises(FactError, match="must print the newest backup's time"):
        parse_backup_command("no backups here")


def _config(**options: object) -> HostsSourceConfig:
    options.setdefault("ssh", {"key_file": "/k"})
    return HostsSourceConfig(name="x", **options)  # type: ignore[arg-type]


def test_script_frames_every_command_and_sudo_only_the_listed_groups() -> None:
    config = _config(ssh={"key_file": "/k", "sudo": ["ports"]}, certificate_paths=["/etc/ssl"])
    text = script(commands(config), config.settings(), "n0nce")
    assert "sudo -n ss -Htlnp 2>&1" in text
    assert text.count("sudo") == 1
    assert "find /etc/ssl -maxdepth 3 -type f" in text and "PRIVATE" not in text
    assert text.count("printf '\\n%s begin ") == len(commands(config))


def test_sections_need_the_nonce_so_file_content_cannot_fake_them() -> None:
    config = _config()
    cmds = commands(config)
    text = "\nn0nce begin df\n" + DF + "fake end df 0\n\nn0nce end df 0\n\nn0nce begin ss\npartial"
    outputs = split_sections(text, "n0nce", cmds)
    assert set(outputs) == {"df"} and "fake end df 0" in outputs["df"].text
    facts = facts_from_outputs(outputs, config)  # a cut-off script fails what it did not finish
    assert facts.failed["ports"] == "the script stopped before `ss` finished"


def test_a_failed_command_fails_its_group_with_the_command_and_message() -> None:
    config = _config()
    outputs = {"ss": Output("ss -Htlnp", 127, "sh: 1: ss: not found")}
    facts = facts_from_outputs(outputs, config)
    assert facts.failed["ports"] == "`ss -Htlnp` failed (exit 127): sh: 1: ss: not found"


def test_certificate_command_never_lets_a_key_through_after_a_truncated_certificate(
    tmp_path: Path,
) -> None:
    """The real find + awk on real files: an unclosed CERTIFICATE block ends with its file."""
    (tmp_path / "a-truncated.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n")
    (tmp_path / "b-combined.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nTHE-PRIVATE-KEY\n-----END PRIVATE KEY-----\n"
        "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"
        "-----BEGIN CERTIFICATE-----\nCCCC\n-----BEGIN RSA PRIVATE KEY-----\nTHE-RSA-KEY\n"
    )
    ran = subprocess.run(
        ["sh", "-c", certificate_command([str(tmp_path)], 1)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "PRIVATE" not in ran.stdout
    assert "THE-PRIVATE-KEY" not in ran.stdout and "THE-RSA-KEY" not in ran.stdout
    files = {Path(f.path).name: f.pem_blocks for f in parse_certificate_dump(ran.stdout)}
    assert files == {
        "b-combined.pem": [b"-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----"]
    }
