"""HAProxy's configuration files and its stats socket's `show stat` → a `Balancer`. Pure.

Read: `global` `stats socket` paths; `defaults` `mode` and `default_backend`; `frontend` and
`listen` sections' `bind` (addresses, ports, `ssl`, `crt`), `mode`, `default_backend`,
`use_backend`, `redirect scheme https` / `http-request redirect` (unconditional, or only for
plain requests: `if !{ ssl_fc }`, `unless { ssl_fc }`) and `http-request return|deny`; `backend`
and `listen` sections' `server` lines. Other sections (resolvers, peers, userlist, ...) are
skipped. A line Vigil cannot read is a ConfigError naming the file and the line.

`show stat` is HAProxy's CSV of proxies and servers: a server's `status` (`UP`, `UP 1/3`,
`DOWN`, `DOWN 1/2`, `NOLB`, `DRAIN`, `MAINT`, `no check`) gives its health.
"""

from __future__ import annotations

import csv
import io
import shlex
from dataclasses import dataclass, field

from collectors.hosts.base import Backend, Balancer, Listener
from collectors.hosts.facts import FactError
from collectors.hosts.listeners import ConfigError, configured_bind

PROXIES = frozenset({"frontend", "backend", "listen", "defaults"})
OTHER_SECTIONS = frozenset(
    {
        "global",
        "resolvers",
        "peers",
        "userlist",
        "mailers",
        "cache",
        "program",
        "http-errors",
        "ring",
        "log-forward",
        "fcgi-app",
        "crt-store",
        "traces",
    }
)
_PLAIN_ONLY = ("if !{ ssl_fc }", "unless { ssl_fc }", "if ! { ssl_fc }")
FILE_MARK = "==> "
MISSING_MARK = "vigil: missing "


@dataclass
class _Proxy:
    kind: str
    name: str
    file: str
    line: int
    mode: str = "tcp"
    default_backend: str | None = None
    use_backends: list[str] = field(default_factory=list)
    binds: list[tuple[list[str], str, int]] = field(default_factory=list)
    servers: list[Backend] = field(default_factory=list)
    redirect_https: bool | None = None
    """True: every plain request redirects to https; False: redirects elsewhere; None: none."""
    answers: bool = False
    dynamic: list[str] = field(default_factory=list)
    """`FILE:LINE` of rules sending traffic to a backend named per request (`%[...]`)."""


STATS_MARK = "=== stats "
UNREADABLE_MARK = "vigil: cannot read "


@dataclass
class Output:
    """What the read printed: each config file, each stats socket's answer, what was not there."""

    files: list[tuple[str, str]] = field(default_factory=list)
    stats: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


SUDO_WARNINGS = (
    "sudo: unable to resolve host ",
    "sudo: setrlimit(",
    "sudo: unable to send audit message",
    "sudo: unable to open audit system",
    "sudo: ldap_",
)
"""What sudo prints while still running the command (a host name missing from /etc/hosts,
...): a warning, not a refusal."""


def is_sudo_refusal(line: str) -> bool:
    """Whether sudo's line means it did not run the command (`a password is required`,
    `Sorry, user ... is not allowed`, `... is not in the sudoers file`). A `sudo:` line that is
    a known warning (`SUDO_WARNINGS`) is not; any other `sudo:` line is taken as a refusal, so
    a failed `test -e` is never read as a missing file."""
    line = line.strip()
    if line.startswith("Sorry, user ") or line.endswith(
        (
            "is not in the sudoers file.  This incident will be reported.",
            "is not in the sudoers file",
        )
    ):
        return True
    return line.startswith("sudo: ") and not line.startswith(SUDO_WARNINGS)


def split_output(text: str) -> Output:
    """The `==> PATH` files, `=== stats SOCKET` answers and `vigil: ...` notes of the read."""
    out = Output()
    current: list[str] | None = None
    parts: list[tuple[list[tuple[str, str]], str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith(MISSING_MARK):
            out.missing.append(line[len(MISSING_MARK) :])
        elif line.startswith(UNREADABLE_MARK):
            out.unreadable.append(line[len(UNREADABLE_MARK) :])
        elif line.startswith(SUDO_WARNINGS):
            continue  # sudo's stderr, amid a file it did print: not part of the file
        elif is_sudo_refusal(line):  # sudo refused `test`/`cat`: unknown, not absent
            out.unreadable.append(f"the config ({line.strip()})")
        elif line.startswith(FILE_MARK + "/"):
            current = []
            parts.append((out.files, line[len(FILE_MARK) :], current))
        elif line.startswith(STATS_MARK):
            current = []
            parts.append((out.stats, line[len(STATS_MARK) :], current))
        elif current is not None:
            current.append(line)
    for into, name, lines in parts:
        into.append((name, "\n".join(lines)))
    return out


def parse_output(text: str) -> Balancer | None:
    """The HAProxy of one host from its config files and stats; None when it has no config."""
    out = split_output(text)
    if out.unreadable:
        raise FactError(
            f"cannot read {', '.join(out.unreadable[:3])}: grant the SSH user read access or "
            "add `load_balancers` to ssh.sudo"
        )
    if not out.files:
        return None  # no configured file on this host: HAProxy is not set up here
    balancer = parse_config(out.files)
    if not out.stats:
        balancer.health_note = (
            "no stats socket: add `stats socket /run/haproxy/admin.sock mode 660 level user` "
            "to the global section, or set load_balancers.haproxy.stats_sockets"
        )
    for socket, answer in out.stats:
        apply_stats(balancer, socket, answer)
        if balancer.health_source is not None:
            break
    return balancer


def words(line: str, file: str, number: int) -> list[str]:
    """A config line's words as HAProxy splits them: quotes, backslashes, `#` comments."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError as exc:
        raise ConfigError(f"cannot split the line: {exc}", file=file, line=number) from None


def parse_config(files: list[tuple[str, str]]) -> Balancer:
    """The HAProxy configuration made of `files` (in the order `haproxy -f` reads them)."""
    proxies: list[_Proxy] = []
    defaults = _Proxy("defaults", "", "", 0)
    sockets: list[str] = []
    for path, content in files:
        section: _Proxy | None = None
        kind = ""
        for number, raw in enumerate(content.splitlines(), 1):
            line = words(raw, path, number)
            if not line:
                continue
            keyword = line[0]
            if keyword in PROXIES:
                kind = keyword
                section = _Proxy(keyword, line[1] if len(line) > 1 else "", path, number)
                if keyword == "defaults":
                    defaults = section
                else:
                    if not section.name:
                        raise ConfigError(f"{keyword} without a name", file=path, line=number)
                    section.mode = defaults.mode
                    section.default_backend = defaults.default_backend
                    proxies.append(section)
                continue
            if keyword in OTHER_SECTIONS:
                kind, section = keyword, None
                continue
            if not kind:
                raise ConfigError(
                    f"{keyword!r} is outside any section",
                    file=path,
                    line=number,
                    fix="start the file with a section (global, defaults, frontend, ...)",
                )
            if kind == "global" and line[:2] == ["stats", "socket"] and len(line) > 2:
                socket = line[2].removeprefix("unix@")
                if socket.startswith("/"):
                    sockets.append(socket)
            if section is not None:
                _keyword(section, line, path, number)
    return _balancer(proxies, [p for p, _ in files], sockets)


def _keyword(proxy: _Proxy, line: list[str], file: str, number: int) -> None:
    keyword, args = line[0], line[1:]
    if keyword == "mode" and args:
        proxy.mode = args[0]
    elif keyword == "default_backend":
        if not args:
            raise ConfigError("default_backend without a name", file=file, line=number)
        if "%[" in args[0]:
            proxy.dynamic.append(f"{file}:{number}")
        else:
            proxy.default_backend = args[0]
    elif keyword == "use_backend" and args:
        if "%[" in args[0]:  # a name computed per request: its backends are not known here
            proxy.dynamic.append(f"{file}:{number}")
        elif args[0] not in proxy.use_backends:
            proxy.use_backends.append(args[0])
    elif keyword == "bind" and proxy.kind in ("frontend", "listen"):
        if not args:
            raise ConfigError("bind without an address", file=file, line=number)
        proxy.binds.append((args, file, number))
    elif keyword == "server" and proxy.kind in ("backend", "listen"):
        proxy.servers.append(_server(proxy.name, args, file, number))
    elif keyword == "server-template" and proxy.kind in ("backend", "listen"):
        proxy.servers.extend(_template(proxy.name, args, file, number))
    elif keyword == "redirect" or line[:2] == ["http-request", "redirect"]:
        _redirect(proxy, args if keyword == "redirect" else args[1:])
    elif line[:2] in (["http-request", "return"], ["http-request", "deny"]) and not _condition(
        args[1:]
    ):
        proxy.answers = True  # every request gets a configured answer


def _condition(args: list[str]) -> str:
    """The `if ...` / `unless ...` part of a rule, as one string ("" when unconditional)."""
    for i, word in enumerate(args):
        if word in ("if", "unless"):
            return " ".join(args[i:])
    return ""


def _redirect(proxy: _Proxy, args: list[str]) -> None:
    """`scheme https`, `location https://...`, `prefix https://...` for every plain request."""
    condition = _condition(args)
    if condition and condition.replace("{ ", "{").replace(" }", "}") not in {
        c.replace("{ ", "{").replace(" }", "}") for c in _PLAIN_ONLY
    }:
        return  # only some requests redirect (a host, a path): the rest are served
    if len(args) < 2:
        return
    how, where = args[0], args[1]
    to_https = (how == "scheme" and where.lower() == "https") or (
        how in ("location", "prefix") and where.lower().startswith("https://")
    )
    proxy.redirect_https = to_https if proxy.redirect_https is None else proxy.redirect_https


def _server(backend: str, args: list[str], file: str, number: int) -> Backend:
    if len(args) < 2:
        raise ConfigError(
            "server needs a name and an address",
            file=file,
            line=number,
            fix="server NAME ADDR:PORT",
        )
    name, address = args[0], args[1]
    if address.startswith(("unix@", "/", "abns@")):
        return Backend(address, None, backend, name=name, backup="backup" in args[2:])
    host, port = _host_port(address)
    if not host or any(c in host for c in " ${}") or (port and not port.lstrip("+-").isdigit()):
        raise ConfigError(
            f"server {name}: cannot read the address {address!r}",
            file=file,
            line=number,
            fix="write ADDRESS:PORT (environment variables are not expanded by Vigil)",
        )
    absolute = port.isdigit()  # `+1`/`-1` and no port: relative to the client's port
    if absolute and not 0 < int(port) < 65536:
        raise ConfigError(f"server {name}: port {port} is not in 1-65535", file=file, line=number)
    health = "unused" if "disabled" in args[2:] else None
    return Backend(
        host.lower(),
        int(port) if absolute else None,
        backend,
        name=name,
        health=health,
        backup="backup" in args[2:],
    )


MAX_TEMPLATE = 4096


def _template(backend: str, args: list[str], file: str, number: int) -> list[Backend]:
    """`server-template PREFIX NUM|FIRST-LAST FQDN[:PORT] ...`: the servers HAProxy names
    PREFIX1..PREFIXN (their addresses come from DNS at run time: the FQDN stands for them)."""
    fix = "server-template PREFIX COUNT|FIRST-LAST FQDN:PORT"
    if len(args) < 3:
        raise ConfigError(
            "server-template needs a prefix, a count and an address",
            file=file,
            line=number,
            fix=fix,
        )
    prefix, count = args[0], args[1]
    first, dash, last = count.partition("-")
    if not first.isdigit() or (dash and not last.isdigit()):
        raise ConfigError(
            f"server-template {prefix}: cannot read the count {count!r}",
            file=file,
            line=number,
            fix=fix,
        )
    start, end = (int(first), int(last)) if last else (1, int(first))
    if not 0 < end - start + 1 <= MAX_TEMPLATE:
        raise ConfigError(
            f"server-template {prefix}: {count!r} is not 1 to {MAX_TEMPLATE} servers",
            file=file,
            line=number,
            fix=fix,
        )
    found = []
    for i in range(start, end + 1):
        server = _server(backend, [f"{prefix}{i}", *args[2:]], file, number)
        found.append(server)
    return found


def _host_port(address: str) -> tuple[str, str]:
    for prefix in ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"):
        address = address.removeprefix(prefix)
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, rest.removeprefix(":")
    if ":" in address:
        host, _, port = address.rpartition(":")
        return host, port
    return address, ""


def _balancer(proxies: list[_Proxy], files: list[str], sockets: list[str]) -> Balancer:
    listeners: list[Listener] = []
    backends: list[Backend] = []
    dynamic = [where for proxy in proxies for where in proxy.dynamic]
    for proxy in proxies:
        if proxy.kind in ("backend", "listen"):
            backends.extend(proxy.servers)
        if proxy.kind in ("frontend", "listen"):
            listeners.extend(_listeners(proxy))
    return Balancer(
        kind="haproxy",
        config_files=files,
        listeners=sorted(listeners, key=lambda x: (x.port, x.address)),
        backends=backends,
        stats_sockets=sockets,
        targets_complete=not dynamic,
        targets_note=(
            f"backends chosen per request by a name in %[...] ({', '.join(dynamic[:3])})"
            if dynamic
            else None
        ),
    )


def _listeners(proxy: _Proxy) -> list[Listener]:
    # Traffic no use_backend rule takes goes to default_backend (from defaults too), which
    # wins over a listen section's own servers, as in HAProxy's stream switching.
    fallback = proxy.default_backend
    if fallback is None and proxy.kind == "listen" and proxy.servers:
        fallback = proxy.name
    groups: list[str] = []
    for group in [fallback, *proxy.use_backends]:
        if group and group not in groups:
            groups.append(group)
    found = []
    for args, file, number in proxy.binds:
        params = args[1:]
        tls = "ssl" in params
        certificates = [
            params[i + 1] for i, p in enumerate(params[:-1]) if p in ("crt", "crt-list")
        ]
        if proxy.redirect_https is not None and not tls:
            action, redirect_https = "redirect", proxy.redirect_https
        elif (groups or proxy.dynamic) and not proxy.answers:
            action, redirect_https = "forward", False
        else:
            action, redirect_https = "fixed-response", False
        http = proxy.mode == "http"
        protocol = ("HTTPS" if tls else "HTTP") if http else ("TLS" if tls else "TCP")
        for address in args[0].split(","):
            what = f"{proxy.kind} {proxy.name}: bind"
            bound = configured_bind(address, what=what, file=file, line=number)
            if bound is None:
                continue
            found.append(
                Listener(
                    protocol=protocol,
                    address=bound[0],
                    port=bound[1],
                    tls=tls,
                    certificate_files=certificates,
                    default_action=action,
                    redirect_https=redirect_https,
                    target_groups=list(groups),
                    server_names=[proxy.name],
                    file=file,
                    line=number,
                )
            )
    return found


def parse_show_stat(text: str) -> dict[tuple[str, str], str]:
    """(proxy, server) → status from `show stat`; FRONTEND/BACKEND rows are left out."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# pxname,svname,"):
        first = lines[0][:200] if lines else "no output"
        raise FactError(f"the stats socket did not answer `show stat` with CSV: {first}")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    states = {}
    for row in reader:
        proxy, server, status = row.get("pxname"), row.get("svname"), row.get("status")
        if not proxy or not server or status is None or server in ("FRONTEND", "BACKEND"):
            continue
        states[(proxy, server)] = status
    return states


def stat_health(status: str) -> str | None:
    """A `show stat` status as target health; None when HAProxy does not check the server."""
    word = status.split(" ", 1)[0].upper()
    if word == "UP":
        return "healthy"
    if word == "DOWN":
        return "unhealthy"
    if word in ("NOLB", "DRAIN"):
        return "draining"
    if word == "MAINT":
        return "unused"
    return None


def apply_stats(balancer: Balancer, socket: str, text: str) -> None:
    """Set each server's health from the socket's `show stat`; unreadable leaves it unknown."""
    try:
        states = parse_show_stat(text)
    except FactError as exc:
        balancer.health_note = f"stats socket {socket}: {exc}"
        return
    balancer.health_source = f"stats socket {socket}"
    balancer.health_note = None
    for backend in balancer.backends:
        status = states.get((backend.target_group, backend.name or ""))
        if status is not None and backend.health != "unused":
            backend.health = stat_health(status)
