"""nginx's configuration, as `nginx -T` prints it, → a `Balancer`. Pure: tested on dumps.

`nginx -T` tests the configuration and prints every file it read, each after a
`# configuration file PATH:` line, so one command gives the whole configuration with its
includes, already checked by nginx itself. A configuration nginx rejects fails with nginx's
own message, which names the file and the line (`... in /etc/nginx/sites-enabled/shop:12`).

Read: `http` and `stream` blocks; their `server` blocks' `listen` (address, port, `ssl`),
`ssl on`, `ssl_certificate` (inherited from `http`), `server_name`, `return`/`rewrite` (and
`if ($scheme ...)`) redirects, the `*_pass` directives of their locations; and `upstream`
blocks' `server` lines. Server blocks sharing an address and port are one listener.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from collectors.hosts.base import Backend, Balancer, Listener
from collectors.hosts.listeners import ConfigError, configured_bind, parse_bind

HEADER = re.compile(r"^# configuration file (?P<path>.+):$")
_STATUS = re.compile(
    r"^nginx: ((the )?configuration file .* (syntax is ok|test is successful)|\[\w+\] .*)$"
    r"|^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[\w+\] \d+#\d+: "
)
"""nginx's own lines on stderr (merged into the dump): its verdict, warnings, log lines."""
_EMERG = re.compile(r"\[emerg\](?: \d+#\d+:)? (?P<what>.*?)(?: in (?P<file>/\S+?):(?P<line>\d+))?$")
NOT_FOUND = "vigil: nginx not found"
PASSES = ("proxy_pass", "grpc_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "memcached_pass")
REDIRECT_CODES = frozenset({"301", "302", "303", "307", "308"})
_CATCH_ALL = (["/"], ["^~", "/"])
_MATCH_ALL = frozenset({"^", "^(.*)$", "^/(.*)$", "^(.*)", "^/(.*)", "^/?(.*)$", ".*", "(.*)"})
MAX_INCLUDE_DEPTH = 16


@dataclass
class Directive:
    """One directive: name, arguments, where it is, and its block (None for `name args;`)."""

    name: str
    args: list[str]
    file: str
    line: int
    block: list[Directive] | None = None

    def children(self, name: str) -> list[Directive]:
        return [d for d in self.block or () if d.name == name]


@dataclass
class _Context:
    upstreams: dict[str, list[Directive]] = field(default_factory=dict)
    certificates: list[str] = field(default_factory=list)


def split_dump(text: str) -> list[tuple[str, str, int]]:
    """(path, content, line of the header) of each file `nginx -T` printed, in its order."""
    files: list[tuple[str, list[str], int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        header = HEADER.match(line)
        if header:
            files.append((header.group("path"), [], number))
        elif files and not _STATUS.match(line):
            files[-1][1].append(line)
    return [(path, "\n".join(lines), number) for path, lines, number in files]


def dump_error(text: str) -> ConfigError:
    """nginx's own complaint about its configuration, with its file and line."""
    for line in text.splitlines():
        emerg = _EMERG.search(line)
        if emerg:
            return ConfigError(
                f"nginx rejects its configuration: {emerg.group('what')}",
                file=emerg.group("file") or "nginx -T",
                line=int(emerg.group("line")) if emerg.group("line") else None,
                fix="fix the configuration (`nginx -t` shows the same error)",
            )
    first = next((line for line in text.splitlines() if line.strip()), "no output")
    return ConfigError(
        f"`nginx -T` failed: {first[:200]}",
        file="nginx -T",
        fix="check that the SSH user may run `nginx -T` (or add load_balancers to ssh.sudo)",
    )


def tokenize(text: str, file: str) -> Iterator[tuple[str, int, bool]]:
    """(token, line, quoted) in nginx's syntax: `;`, `{`, `}` are tokens; `#` comments;
    quotes and backslash escapes; `${name}` stays inside its word."""
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in ";{}":
            yield c, line, False
            i += 1
        elif c in "\"'":
            start, i, quoted = line, i + 1, []
            while i < n and text[i] != c:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                if text[i] == "\n":
                    line += 1
                quoted.append(text[i])
                i += 1
            if i >= n:
                raise ConfigError("a quote is never closed", file=file, line=start)
            i += 1
            yield "".join(quoted), start, True
        else:
            chars: list[str] = []
            while i < n and not text[i].isspace() and text[i] not in ";}":
                if text[i] == "{":
                    if not chars or chars[-1] != "$":
                        break
                    end = text.find("}", i)
                    if end < 0:
                        raise ConfigError('a "${" is never closed', file=file, line=line)
                    chars.append(text[i : end + 1])
                    i = end + 1
                    continue
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            yield "".join(chars), line, False


def parse_file(text: str, file: str) -> list[Directive]:
    """One file's directives as a tree; an unbalanced brace or a missing `;` is a ConfigError."""
    root: list[Directive] = []
    stack: list[tuple[list[Directive], int]] = []
    current: list[Directive] = root
    words: list[str] = []
    start = 0
    for token, line, quoted in tokenize(text, file):
        if not quoted and token == ";":
            if not words:
                raise ConfigError('unexpected ";"', file=file, line=line)
            current.append(Directive(words[0], words[1:], file, start))
            words = []
        elif not quoted and token == "{":
            if not words:
                raise ConfigError('unexpected "{"', file=file, line=line)
            block: list[Directive] = []
            current.append(Directive(words[0], words[1:], file, start, block))
            stack.append((current, line))
            current, words = block, []
        elif not quoted and token == "}":
            if words:
                raise ConfigError(f'"{words[0]}" is not terminated by ";"', file=file, line=start)
            if not stack:
                raise ConfigError('unexpected "}"', file=file, line=line)
            current, _ = stack.pop()
        else:
            if not words:
                start = line
            words.append(token)
    if words:
        raise ConfigError(f'"{words[0]}" is not terminated by ";"', file=file, line=start)
    if stack:
        raise ConfigError('a "{" is never closed', file=file, line=stack[-1][1])
    return root


def parse_dump(text: str) -> Balancer | None:
    """The nginx configuration of one host; None when nginx is not installed there."""
    if NOT_FOUND in text.splitlines()[:3]:
        return None
    files = split_dump(text)
    if not files:
        raise dump_error(text)
    parsed = {path: parse_file(content, path) for path, content, _ in files}
    main = files[0][0]
    prefix = posixpath.dirname(main)
    tree = _resolve(parsed[main], parsed, prefix, 0)
    listeners: dict[tuple[str, int], Listener] = {}
    backends: list[Backend] = []
    unknown: list[str] = []
    for block in tree:
        if block.name in ("http", "stream") and block.block is not None:
            _section(block, listeners, backends, unknown)
    return Balancer(
        kind="nginx",
        config_files=[path for path, _, _ in files],
        listeners=sorted(listeners.values(), key=lambda x: (x.port, x.address)),
        backends=backends,
        health_note="nginx reports no backend health (passive checks only)",
        targets_complete=not unknown,
        targets_note=(
            f"targets chosen per request by a variable ({', '.join(unknown[:3])})"
            if unknown
            else None
        ),
    )


def _resolve(
    directives: list[Directive], parsed: dict[str, list[Directive]], prefix: str, depth: int
) -> list[Directive]:
    """The directives with every `include` replaced by the files it names (as dumped)."""
    if depth > MAX_INCLUDE_DEPTH:
        raise ConfigError("includes nest too deep", file=directives[0].file if directives else "")
    out: list[Directive] = []
    for directive in directives:
        if directive.name == "include" and directive.block is None and directive.args:
            pattern = posixpath.join(prefix, directive.args[0])
            for path in parsed:
                if fnmatch.fnmatchcase(path, pattern):
                    out.extend(_resolve(parsed[path], parsed, prefix, depth + 1))
            continue
        if directive.block is not None:
            block = _resolve(directive.block, parsed, prefix, depth)
            directive = Directive(
                directive.name, directive.args, directive.file, directive.line, block
            )
        out.append(directive)
    return out


def _section(
    section: Directive,
    listeners: dict[tuple[str, int], Listener],
    backends: list[Backend],
    unknown: list[str],
) -> None:
    """Listeners and backends of an `http` or `stream` block; `unknown` collects the `*_pass`
    targets Vigil cannot enumerate (variables: chosen per request)."""
    stream = section.name == "stream"
    context = _Context()
    for directive in section.block or ():
        if directive.name == "upstream" and directive.args:
            context.upstreams[directive.args[0]] = directive.children("server")
        elif directive.name == "ssl_certificate" and directive.args:
            context.certificates.append(directive.args[0])
    used: set[str] = set()
    for server in section.children("server"):
        if server.block is None:
            continue  # not a server block (nginx would have refused it)
        for listener in _server(server, context, stream, used, unknown):
            key = (listener.address, listener.port)
            if key in listeners:
                _merge(listeners[key], listener)
            else:
                listeners[key] = listener
    for name, servers in context.upstreams.items():
        backends.extend(_upstream_servers(name, servers))
    for group in sorted(used - set(context.upstreams)):
        if group.startswith("unix:"):  # a local socket: one target, its health unknown
            backends.append(Backend(group, None, group))
            continue
        address = parse_pass_address(group)
        if address is not None:
            backends.append(Backend(address[0], address[1], group))


def _server(
    server: Directive, context: _Context, stream: bool, used: set[str], unknown: list[str]
) -> list[Listener]:
    ssl_on = any(d.args[:1] == ["on"] for d in server.children("ssl"))
    certificates = [d.args[0] for d in server.children("ssl_certificate") if d.args]
    certificates = certificates or context.certificates
    names = [name for d in server.children("server_name") for name in d.args if name != '""']
    groups = _pass_targets(server, unknown)
    used.update(groups)
    if stream:
        action, redirect_https = ("forward" if groups else "fixed-response"), False
    else:
        action, redirect_https = _action(server, bool(groups))
    listens = server.children("listen") or [Directive("listen", ["80"], server.file, server.line)]
    found = []
    for listen in listens:
        if not listen.args:
            raise ConfigError("listen without an address", file=listen.file, line=listen.line)
        bound = configured_bind(
            listen.args[0], what="listen", file=listen.file, line=listen.line, default_port=80
        )
        if bound is None:
            continue  # a unix socket: nothing on the network
        params = set(listen.args[1:])
        tls = ssl_on or "ssl" in params or "quic" in params
        if stream:
            protocol = "UDP" if "udp" in params else ("TLS" if tls else "TCP")
        else:
            protocol = "HTTPS" if tls else "HTTP"
        found.append(
            Listener(
                protocol=protocol,
                address=bound[0],
                port=bound[1],
                tls=tls,
                certificate_files=list(certificates) if tls else [],
                default_action=action,
                redirect_https=redirect_https and not tls,
                target_groups=sorted(groups),
                server_names=names,
                file=listen.file,
                line=listen.line,
            )
        )
    return found


def _action(server: Directive, forwards: bool) -> tuple[str, bool]:
    """The server block's default action and whether it redirects to https."""
    for directive in server.block or ():
        found = _redirect_of(directive)
        if found is not None:
            return found
    catch_all = [
        d for d in server.children("location") if d.args in _CATCH_ALL and d.block is not None
    ]
    for location in catch_all:
        for directive in location.block or ():
            found = _redirect_of(directive)
            if found is not None:
                return found
        if any(location.children(name) for name in PASSES):
            return "forward", False
    return ("forward" if forwards else "serve"), False


def _redirect_of(directive: Directive) -> tuple[str, bool] | None:
    """What a `return`, a match-all `rewrite` or an `if ($scheme = http)` does to a request."""
    args = directive.args
    if directive.name == "return" and args:
        if args[0] in REDIRECT_CODES:
            return "redirect", len(args) > 1 and args[1].startswith("https://")
        if args[0].startswith(("http://", "https://", "$scheme")):  # `return URL;` is a 302
            return "redirect", args[0].startswith("https://")
        return "fixed-response", False
    if directive.name == "rewrite" and len(args) >= 2 and args[0] in _MATCH_ALL:
        flags = set(args[2:])
        if args[1].startswith(("http://", "https://")) or flags & {"permanent", "redirect"}:
            return "redirect", args[1].startswith("https://")
    if directive.name == "if" and _is_plain_scheme_test(args):
        for inner in directive.block or ():
            found = _redirect_of(inner)
            if found is not None and found[1]:
                return found
    return None


def _is_plain_scheme_test(args: list[str]) -> bool:
    """`($scheme = http)`, `($scheme != "https")`, `($https = "")`: true for plain requests."""
    words = " ".join(args).strip("()").replace('"', "").replace("'", "").split()
    if len(words) == 3 and words[0] == "$scheme":
        return (words[1], words[2]) in (("=", "http"), ("!=", "https"), ("~", "^http$"))
    if len(words) == 2 and words[0] == "$https":
        return words[1] == "="
    return False


def _pass_targets(server: Directive, unknown: list[str]) -> set[str]:
    """Upstream names (or literal `host:port`, `unix:PATH`) the block's `*_pass` directives
    send to; a target in a variable goes to `unknown` (`FILE:LINE`)."""
    groups: set[str] = set()
    stack = list(server.block or ())
    while stack:
        directive = stack.pop()
        if directive.block is not None:
            stack.extend(directive.block)
        if directive.name not in PASSES or not directive.args:
            continue
        target = _pass_group(directive.args[0])
        if target is not None:
            groups.add(target)
        else:
            unknown.append(f"{directive.file}:{directive.line}")
    return groups


def _pass_group(url: str) -> str | None:
    """`http://app/x` → `app`; `http://127.0.0.1:8080` → `127.0.0.1:8080`;
    `http://unix:/run/app.sock:/x` → `unix:/run/app.sock`; variables → None."""
    rest = url if url.startswith("unix:") else url.split("://", 1)[-1]
    if rest.startswith("unix:"):
        path = rest[len("unix:") :].lstrip("/").split(":", 1)[0]
        return None if "$" in path or not path else f"unix:/{path}"
    if "$" in rest:
        return None
    return rest.split("/", 1)[0] or None


def parse_pass_address(group: str) -> tuple[str, int | None] | None:
    """A `*_pass` target that is no upstream of the config, as one backend `(host, port)`."""
    try:
        bound = parse_bind(group, default_port=80)
    except ValueError:
        return None
    return bound


def _upstream_servers(name: str, servers: list[Directive]) -> list[Backend]:
    found = []
    for server in servers:
        if not server.args:
            raise ConfigError("server without an address", file=server.file, line=server.line)
        address = server.args[0]
        if address.startswith("unix:"):
            found.append(Backend(address, None, name))
            continue
        bound = configured_bind(
            address,
            what=f"upstream {name}: server",
            file=server.file,
            line=server.line,
            default_port=80,
        )
        assert bound is not None
        params = set(server.args[1:])
        health = "unused" if "down" in params else None
        found.append(Backend(bound[0], bound[1], name, health=health, backup="backup" in params))
    return found


def _merge(into: Listener, other: Listener) -> None:
    """Server blocks on one address and port: the weakest action wins (any forwarding block
    serves plain HTTP), certificates, names and groups add up."""
    rank = {"forward": 0, "serve": 1, "fixed-response": 2, "redirect": 3}
    if rank.get(other.default_action, 0) < rank.get(into.default_action, 0):
        into.default_action = other.default_action
    into.redirect_https = into.redirect_https and other.redirect_https
    into.tls = into.tls or other.tls
    for attribute in ("certificate_files", "target_groups", "server_names"):
        merged = getattr(into, attribute)
        merged.extend(x for x in getattr(other, attribute) if x not in merged)
