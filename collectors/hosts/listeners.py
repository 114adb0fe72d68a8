"""What nginx and HAProxy parsing share: config errors with file and line, bind addresses,
and whether a listener faces the internet. Pure.

A web server's listener bound to one address is `internet-facing` when that address is
public, else `internal` (loopback, RFC 1918, link-local, `localhost`). A host name other than
`localhost` counts as public: what it resolves to on the host is not known here, and a false
`internal` would hide plain HTTP.

A listener bound to a wildcard (`*`, `0.0.0.0`, `::`, no address) listens on every address
of the host, so it faces what the host faces (`host_scheme`): `internet-facing` when the
host has a public address (or its target declares `public_address`), `internal` when all of
its addresses are private or loopback, and null (unknown: rules stay undecided) when its
addresses could not be read.
"""

from __future__ import annotations

import ipaddress

from collectors.hosts.facts import FactError

INTERNET_FACING, INTERNAL = "internet-facing", "internal"
WILDCARDS = frozenset({"", "*", "0.0.0.0", "::", "[::]"})


class ConfigError(FactError):
    """A web server config Vigil cannot read: names the file and the line, and the fix."""

    def __init__(self, what: str, *, file: str, line: int | None = None, fix: str = "") -> None:
        self.file, self.line, self.what = file, line, what
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {what}" + (f"; {fix}" if fix else ""))


def parse_bind(text: str, *, default_port: int | None = None) -> tuple[str, int] | None:
    """`ADDRESS:PORT` as nginx `listen` and HAProxy `bind` write it → (address, port).

    `80`, `*:80`, `:80`, `0.0.0.0:80`, `[::]:443`, `:::443` (HAProxy), `localhost:8080`,
    `10.0.0.5` (nginx: port 80). Unix sockets (`unix:`, `/path`, `unix@`, `abns@`, `fd@`)
    return None: nothing on the network listens there. Raises ValueError when unreadable.
    """
    text = text.strip()
    for prefix in ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@", "quic4@", "quic6@"):
        text = text.removeprefix(prefix)
    if not text or text.startswith(("unix:", "/", "unix@", "abns@", "fd@", "sockpair@", "uxst@")):
        if text:
            return None
        raise ValueError("an empty address")
    if text.isdigit():
        return "*", _port(text)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r} is not [ADDRESS]:PORT")
        port = rest[1:]
    elif text.count(":") > 1:  # HAProxy's `:::443`, `2001:db8::1:443`
        host, _, port = text.rpartition(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not port:
        if default_port is None:
            raise ValueError(f"{text!r} has no port")
        return _host(host or text), default_port
    return _host(host), _port(port)


def configured_bind(
    text: str, *, what: str, file: str, line: int, default_port: int | None = None
) -> tuple[str, int] | None:
    """`parse_bind` for a line of a config file: unreadable is a ConfigError there."""
    try:
        return parse_bind(text, default_port=default_port)
    except ValueError as exc:
        raise ConfigError(f"{what} {text}: {exc}", file=file, line=line) from None


def _host(host: str) -> str:
    host = host.strip("[]")
    if host in WILDCARDS:
        return "*"
    if any(c in host for c in " /\t${}"):
        raise ValueError(f"{host!r} is not an address")
    return host.lower()


def _port(text: str) -> int:
    first = text.split("-", 1)[0]  # HAProxy port ranges: the first port stands for the range
    if not first.isdigit() or not 0 < int(first) < 65536:
        raise ValueError(f"port {text!r} is not a number in 1-65535")
    return int(first)


def is_public_bind(address: str) -> bool:
    """Whether a listener bound to `address` can be reached from the internet (see above)."""
    if address in WILDCARDS:
        return True
    if address in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return True
    return ip.is_global


def is_public_address(address: str) -> bool:
    """Whether an address of the host is reachable from the internet (a global IP)."""
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_global
    except ValueError:
        return False


def host_scheme(addresses: list[str] | None, *, declared_public: bool = False) -> str | None:
    """What a wildcard bind faces on a host with `addresses` (None: not known)."""
    if declared_public or any(is_public_address(a) for a in addresses or ()):
        return INTERNET_FACING
    return INTERNAL if addresses is not None else None


def scheme(address: str, wildcard: str | None = INTERNET_FACING) -> str | None:
    """`internet-facing` or `internal` for one bind address; a wildcard gets `wildcard` (the
    host's `host_scheme`, null when unknown)."""
    if address in WILDCARDS:
        return wildcard
    return INTERNET_FACING if is_public_bind(address) else INTERNAL


def parse_addresses(text: str) -> list[str] | None:
    """The host's addresses from `ip -o addr show` (or `hostname -I`); None when unreadable."""
    found: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if "inet" in words or "inet6" in words:
            for i, word in enumerate(words[:-1]):
                if word in ("inet", "inet6"):
                    found.append(words[i + 1].split("/", 1)[0])
        elif words:
            found.extend(words)  # `hostname -I`: the addresses, space separated
    try:
        return sorted({str(ipaddress.ip_address(a.split("%", 1)[0])) for a in found}) or None
    except ValueError:
        return None
