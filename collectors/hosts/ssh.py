"""Read a host's facts over SSH (asyncssh): one connection, one POSIX `sh` script of
read-only commands, each framed by markers carrying a random nonce.

One script per host keeps a pass to one connection and one session per host (sshd forks
once, not once per command) and one round trip. The nonce keeps a file's content from
faking a section. The commands are fixed here and listed in docs/sources/hosts.md; a fact
group runs under `sudo -n` only when `ssh.sudo` lists it, and then each command is prefixed
on its own (never a shell under sudo).

Host keys are always checked against `ssh.known_hosts`: an unknown or changed key is refused
with an error naming the host and the file. There is no option to turn that off.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
from pydantic import SecretStr

from collectors.hosts import databases, haproxy, nginx
from collectors.hosts.base import (
    BACKUP,
    CERTIFICATES,
    DISKS,
    LOAD_BALANCERS,
    PORTS,
    RESTORE,
    SYSTEM,
    HostFacts,
)
from collectors.hosts.config import (
    SUDO_FACTS,
    Haproxy,
    HostsSourceConfig,
    Nginx,
    SshSettings,
    Target,
)
from collectors.hosts.facts import (
    FILE_MARK,
    FactError,
    Output,
    backup_listing_command,
    certificate_errors,
    parse_backup_command,
    parse_backup_listing,
    parse_certificate_dump,
    parse_df,
    parse_restore_file,
    parse_restore_log,
    parse_ss,
    parse_system,
)
from collectors.hosts.listeners import parse_addresses
from vigil.core.errors import CollectError

DF = "df -PTB1 -x tmpfs -x devtmpfs -x squashfs -x efivarfs -x ramfs"
SYSTEM_COMMANDS = (
    ("uname", "uname -snrm"),
    ("os", "cat /etc/os-release"),
    ("uptime", "cat /proc/uptime"),
    ("cpus", "nproc"),
    ("memory", "cat /proc/meminfo"),
    ("blocks", "lsblk -J -b -o NAME,PATH,SIZE,TYPE,MOUNTPOINT,FSTYPE"),
)
_AWK_CERTS = (
    f'FNR==1{{print "{FILE_MARK}" FILENAME; c=0}} '
    '/-----BEGIN /{c=(index($0, "-----BEGIN CERTIFICATE-----") > 0)} '
    "c{print} "
    "/-----END /{c=0}"
)
"""Print each file's name, then only the lines of its CERTIFICATE blocks. The state is reset
per file and at every BEGIN/END line (not an awk range, which runs on into the next file when
a block is not closed): a truncated certificate never lets a key that follows through."""


@dataclass(frozen=True)
class Command:
    """One read-only command of the facts script and the fact group it belongs to."""

    name: str
    group: str
    text: str
    prefixed: bool = False
    """The text already puts `sudo -n` where it belongs (a compound command): never prefix it."""
    env: tuple[tuple[str, SecretStr], ...] = field(default=(), repr=False)
    """Variables set for this command only (a database password): put in the script text
    that travels over the SSH channel's stdin, never in argv, never in `text` or errors."""
    label: str | None = None
    """How errors name the command when its text is long (a database client's query)."""


def certificate_command(paths: list[str], depth: int) -> str:
    """`find` the certificate files and let awk print only their CERTIFICATE blocks.

    Private keys often share a file or a directory with certificates; awk prints only the
    certificate blocks, so key material never leaves the host.
    """
    quoted = " ".join(shlex.quote(p) for p in paths)
    names = r"\( -name '*.pem' -o -name '*.crt' -o -name '*.cer' \)"
    return (
        f"find {quoted} -maxdepth {depth} -type f {names} -size -1024k "
        f"-exec awk {shlex.quote(_AWK_CERTS)} {{}} +"
    )


def backup_command(config: HostsSourceConfig) -> str | None:
    """The configured backup command, or `find` listing the files of the configured glob."""
    backup = config.backup
    return None if backup is None else backup_listing_command(backup.command, backup.path)


NGINX_PATHS = ("nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
_SOCKET_AWK = (
    '$1=="stats" && $2=="socket" && $3 ~ /^(unix@)?\\/[A-Za-z0-9._\\/@-]+$/ '
    '{sub(/^unix@/, "", $3); print $3}'
)
"""The `stats socket` paths a HAProxy config names (only plain paths: they go to socat)."""


ADDRESSES = "ip -o addr show 2>/dev/null || hostname -I"
"""The host's addresses: what an nginx/HAProxy listener on a wildcard address faces."""


def nginx_command(settings: Nginx, sudo: bool) -> str:
    """`nginx -T` with the first nginx found; `vigil: nginx not found` when there is none."""
    s = "sudo -n " if sudo else ""
    found = " || ".join(f"command -v {shlex.quote(p)}" for p in _nginx_paths(settings))
    config = f" -c {shlex.quote(settings.config)}" if settings.config else ""
    return (
        f'( n=$({found}); if [ -z "$n" ]; then echo {shlex.quote(nginx.NOT_FOUND)}; '
        f'else {s}"$n" -T{config}; fi )'
    )


def _nginx_paths(settings: Nginx) -> tuple[str, ...]:
    return (settings.binary,) if settings.binary else NGINX_PATHS


def haproxy_command(settings: Haproxy, sudo: bool) -> str:
    """Print each config file after `==> PATH` (directories: their *.cfg in name order), then
    each stats socket's `show stat` after `=== stats PATH` (sockets named in the config unless
    configured)."""
    s = "sudo -n " if sudo else ""
    paths = " ".join(shlex.quote(p) for p in settings.config_paths)
    if settings.stats_sockets is None:
        sockets = f"printf '%s\\n' \"$d\" | awk {shlex.quote(_SOCKET_AWK)} | sort -u"
    elif settings.stats_sockets:
        sockets = "printf '%s\\n' " + " ".join(shlex.quote(p) for p in settings.stats_sockets)
    else:
        sockets = "true"
    return "\n".join(
        [
            "( d=$(for f in " + paths + "; do",
            f'  if {s}test -d "$f"; then {s}find "$f" -maxdepth 1 -type f -name \'*.cfg\' '
            "| LC_ALL=C sort",
            f'  elif {s}test -e "$f"; then printf \'%s\\n\' "$f"',
            f"  else printf '{haproxy.MISSING_MARK}%s\\n' \"$f\"; fi",
            'done | while IFS= read -r f; do case "$f" in',
            f"  '{haproxy.MISSING_MARK}'*) printf '%s\\n' \"$f\" ;;",
            f'  *) printf \'{haproxy.FILE_MARK}%s\\n\' "$f"; {s}cat -- "$f" '
            f"|| printf '{haproxy.UNREADABLE_MARK}%s\\n' \"$f\"; echo ;;",
            "esac; done)",
            "printf '%s\\n' \"$d\"",
            f"{sockets} | while IFS= read -r s; do",
            f"  printf '{haproxy.STATS_MARK}%s\\n' \"$s\"",
            f'  echo "show stat" | {s}socat -t 2 stdio "UNIX-CONNECT:$s" 2>&1 '
            "|| echo 'vigil: socat failed'",
            "done )",
        ]
    )


def load_balancer_commands(config: HostsSourceConfig) -> list[Command]:
    """The read-only commands of `load_balancers` (none unless configured)."""
    wanted = config.load_balancers
    if wanted is None:
        return []
    sudo = config.ssh.sudo_for(LOAD_BALANCERS) if config.ssh else False
    found = []
    if wanted.nginx is not None:
        text = nginx_command(wanted.nginx, sudo)
        found.append(Command("nginx", LOAD_BALANCERS, text, prefixed=True))
    if wanted.haproxy is not None:
        text = haproxy_command(wanted.haproxy, sudo)
        found.append(Command("haproxy", LOAD_BALANCERS, text, prefixed=True))
    # What a listener on a wildcard address faces; never under sudo, never failing the group.
    found.append(Command("addresses", LOAD_BALANCERS, ADDRESSES, prefixed=True))
    return found


def restore_command(config: HostsSourceConfig) -> str | None:
    """The configured restore evidence command, or `cat` of its file."""
    evidence = config.restore_evidence
    if evidence is None:
        return None
    if evidence.command is not None:
        return evidence.command
    assert evidence.file is not None  # one of the two, by validation
    return f"cat -- {shlex.quote(evidence.file)}"


def commands(config: HostsSourceConfig, target: Target | None = None) -> list[Command]:
    """Every command a pass runs on a host, in order (docs/sources/hosts.md lists them)."""
    found = [Command(name, SYSTEM, text) for name, text in SYSTEM_COMMANDS]
    found += [Command("df", DISKS, DF), Command("ss", PORTS, "ss -Htlnp")]
    if config.certificate_paths:
        text = certificate_command(config.certificate_paths, config.certificate_depth)
        found.append(Command("certificates", CERTIFICATES, text))
    backup = backup_command(config)
    if backup is not None:
        found.append(Command("backup", BACKUP, backup))
    restore = restore_command(config)
    if restore is not None:
        found.append(Command("restore", RESTORE, restore))
    found += load_balancer_commands(config)
    for database in target.databases if target is not None else ():
        name = databases.group(database)
        client = databases.client_command(database)
        label = databases.client_command(database, shown=True)
        env = databases.client_env(database)
        found.append(Command(name, name, client, env=env, label=label))
        backup = databases.backup_command(database)
        if backup is not None:
            name = databases.backup_group(database)
            found.append(Command(name, name, backup))
    return found


def script(cmds: list[Command], settings: SshSettings, nonce: str) -> str:
    """The `sh` script: each command framed by `<nonce> begin NAME` / `<nonce> end NAME RC`."""
    lines = ["export LC_ALL=C"]  # stable, parseable output whatever the host's locale
    for cmd in cmds:
        sudo = cmd.group in SUDO_FACTS and settings.sudo_for(cmd.group) and not cmd.prefixed
        text = f"sudo -n {cmd.text}" if sudo else cmd.text
        if cmd.env:
            assigned = " ".join(f"{k}={shlex.quote(v.get_secret_value())}" for k, v in cmd.env)
            text = f"{assigned} {text}"
        lines.append(f"printf '\\n%s begin {cmd.name}\\n' {nonce}")
        lines.append(f"{text} 2>&1 </dev/null")
        lines.append(f"printf '\\n%s end {cmd.name} %s\\n' {nonce} \"$?\"")
    return "\n".join(lines) + "\n"


def split_sections(text: str, nonce: str, cmds: list[Command]) -> dict[str, Output]:
    """Each command's output and exit status; a command whose end marker is missing is absent."""
    known = {cmd.name: cmd for cmd in cmds}
    outputs: dict[str, Output] = {}
    name: str | None = None
    body: list[str] = []
    for line in text.split("\n"):
        parts = line.split(" ")
        if parts[0] != nonce or len(parts) < 3 or parts[2] not in known:
            body.append(line)
        elif parts[1] == "begin":
            name, body = parts[2], []
        elif parts[1] == "end" and name == parts[2] and len(parts) == 4:
            command = known[name].label or known[name].text
            outputs[name] = Output(command, int(parts[3]), "\n".join(body).strip("\n"))
            name = None
    return outputs


def facts_from_outputs(
    outputs: Mapping[str, Output], config: HostsSourceConfig, target: Target | None = None
) -> HostFacts:
    """Parse each fact group; a group that fails is recorded, the others still count."""
    facts = HostFacts(via="ssh")
    _group(facts, SYSTEM, lambda: facts.system.update(parse_system(outputs)))
    _group(facts, DISKS, lambda: facts.filesystems.extend(parse_df(outputs["df"].ok())))
    _group(facts, PORTS, lambda: setattr(facts, "listening_ports", parse_ss(outputs["ss"].ok())))
    if "certificates" in outputs or config.certificate_paths:
        _group(facts, CERTIFICATES, lambda: _certificates(facts, outputs["certificates"]))
    if config.backup is not None:
        _group(facts, BACKUP, lambda: _backup(facts, outputs["backup"], config))
    if config.load_balancers is not None:
        _group(facts, LOAD_BALANCERS, lambda: _load_balancers(facts, outputs, config))
        found = outputs.get("addresses")
        if found is not None and found.status == 0:
            facts.addresses = parse_addresses(found.text)  # unreadable: unknown, not failed
    if config.restore_evidence is not None:
        _group(facts, RESTORE, lambda: _restore(facts, outputs["restore"], config))
    if target is not None:
        databases.read_databases(target, outputs, facts)
    return facts


def _group(facts: HostFacts, group: str, parse: Any) -> None:
    try:
        parse()
    except KeyError as exc:
        facts.failed[group] = f"the script stopped before `{exc.args[0]}` finished"
    except (FactError, ValueError, IndexError) as exc:
        facts.failed[group] = str(exc)


def _certificates(facts: HostFacts, output: Output) -> None:
    errors = certificate_errors(output)
    if errors:
        raise FactError(
            f"{'; '.join(errors[:3])}; grant the SSH user read access or add "
            "`certificates` to ssh.sudo"
        )
    facts.certificates = parse_certificate_dump(output.text)


def _backup(facts: HostFacts, output: Output, config: HostsSourceConfig) -> None:
    assert config.backup is not None
    if config.backup.command is not None:
        facts.backup = parse_backup_command(output.ok())
    else:
        facts.backup = parse_backup_listing(output.ok())


def _load_balancers(
    facts: HostFacts, outputs: Mapping[str, Output], config: HostsSourceConfig
) -> None:
    """nginx's and HAProxy's configs; one that cannot be read fails the group (file, line)."""
    assert config.load_balancers is not None
    found = []
    if config.load_balancers.nginx is not None:
        output = outputs["nginx"]
        if output.status != 0:
            raise nginx.dump_error(output.text)
        balancer = nginx.parse_dump(output.text)
        if balancer is not None:
            found.append(balancer)
    if config.load_balancers.haproxy is not None:
        balancer = haproxy.parse_output(outputs["haproxy"].ok())
        if balancer is not None:
            found.append(balancer)
    facts.load_balancers = found


def _restore(facts: HostFacts, output: Output, config: HostsSourceConfig) -> None:
    assert config.restore_evidence is not None
    if config.restore_evidence.file is not None:
        facts.restore = parse_restore_file(output)
    else:
        facts.restore = parse_restore_log(output.ok())


# -- I/O ---------------------------------------------------------------------------------------


class Credentials:
    """The known_hosts and client key, read once per pass and shared by every host."""

    def __init__(self, settings: SshSettings) -> None:
        self.settings = settings
        self.known_hosts = _read_known_hosts(os.path.expanduser(settings.known_hosts))
        self.client_keys = _read_key(settings) if settings.key_file else []
        self.agent_path = _agent_path() if settings.agent else None


def _read_known_hosts(path: str) -> asyncssh.SSHKnownHosts:
    if not Path(path).is_file():
        raise CollectError(
            f"ssh.known_hosts {path} does not exist; create it with the verified host keys of "
            "your hosts (Vigil never connects without checking the host key)"
        )
    try:
        return asyncssh.read_known_hosts(path)
    except (OSError, ValueError) as exc:
        raise CollectError(f"cannot read ssh.known_hosts {path}: {exc}") from None


def _read_key(settings: SshSettings) -> list[asyncssh.SSHKey]:
    assert settings.key_file is not None
    passphrase = settings.key_passphrase.get_secret_value() if settings.key_passphrase else None
    try:
        return [asyncssh.read_private_key(os.path.expanduser(settings.key_file), passphrase)]
    except (OSError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        raise CollectError(
            f"cannot load ssh.key_file {settings.key_file}: {exc}; check the path, its "
            "permissions and ssh.key_passphrase"
        ) from None


def _agent_path() -> str:
    path = os.environ.get("SSH_AUTH_SOCK", "")
    if not path:
        raise CollectError("ssh.agent is true but SSH_AUTH_SOCK is not set; start an agent")
    return path


async def run_script(target: Target, credentials: Credentials, text: str) -> str:
    """Connect, check the host key, log in, run the script; the per-host timeout covers all."""
    settings = credentials.settings
    where = f"{target.label} ({target.host}:{target.port})"
    stage = ["connecting over TCP"]
    try:
        async with asyncio.timeout(settings.timeout.total_seconds()):
            sock = await _tcp(target.host, target.port)
            stage[0] = "waiting for the SSH handshake"
            async with asyncssh.connect(
                target.host,
                target.port,
                sock=sock,
                config=None,
                username=target.user or settings.user,
                known_hosts=credentials.known_hosts,
                client_keys=credentials.client_keys or None,
                agent_path=credentials.agent_path,
                preferred_auth="publickey",
                password=None,
                kbdint_auth=False,
            ) as conn:
                stage[0] = "running the facts commands"
                result = await conn.run("sh -s", input=text, encoding="utf-8", errors="replace")
                return str(result.stdout or "")
    except TimeoutError:
        raise CollectError(
            f"{where}: no answer within {settings.timeout.total_seconds():g}s while "
            f"{stage[0]}; check that the host is up and that port {target.port} is its SSH "
            "server, or raise ssh.timeout",
            retryable=True,
        ) from None
    except asyncssh.HostKeyNotVerifiable as exc:
        raise CollectError(
            f"{where}: host key refused ({exc.reason}): the host is not in "
            f"{settings.known_hosts} or its key changed. Verify the key out of band, then "
            f"add it (ssh-keyscan -p {target.port} {target.host}); Vigil never skips this check"
        ) from None
    except asyncssh.PermissionDenied:
        user = target.user or settings.user
        raise CollectError(
            f"{where}: user {user} was refused (public key not accepted); add the key's "
            f"public half to ~{user}/.ssh/authorized_keys on the host"
        ) from None
    except (asyncssh.Error, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise CollectError(
            f"{where}: {stage[0]} failed: {reason}; check the address, the port and the SSH server",
            retryable=True,
        ) from None


async def _tcp(host: str, port: int) -> socket.socket:
    """A connected non-blocking socket, so a TCP failure is told apart from an SSH one."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"{host} has no address")
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:  # cancelled by the per-host timeout: do not leak the socket
            sock.close()
            raise
        else:
            return sock
    raise error


def fetch_facts(target: Target, config: HostsSourceConfig, credentials: Credentials) -> HostFacts:
    """One host's facts, read over SSH (blocking: runs its own event loop in this thread)."""
    cmds = commands(config, target)
    nonce = secrets.token_hex(8)
    text = script(cmds, credentials.settings, nonce)
    output = asyncio.run(run_script(target, credentials, text))
    return facts_from_outputs(split_sections(output, nonce, cmds), config, target)
