"""A small, strict reader of Ansible inventory files (INI and YAML): hosts, groups, vars.

Vigil reads the inventory SREs already keep rather than asking for a second list. It
understands what an inventory *declares* — groups, `children`, group `vars`, host vars
(`ansible_host`, `ansible_port`, `ansible_user`, `vigil_allowed_ports`, ...) and host ranges
(`web[01:20].example.com`) — and nothing Ansible computes at run time (dynamic inventory
scripts, plugins, `group_vars/` directories). Whatever it does not understand is an
`InputError` naming the file, the line and the fix, never silently skipped.

Variable precedence follows Ansible: `all` < parent groups < child groups < host vars.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from vigil.core.errors import InputError
from vigil.core.yamlsource import YamlDocument, parse_yaml, read_text

ALL, UNGROUPED = "all", "ungrouped"
_GROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::([0-9]+))?\]")
_YAML_GROUP_KEYS = ("hosts", "vars", "children")


@dataclass
class InventoryHost:
    """A host of the inventory with its effective vars and every group it belongs to."""

    name: str
    variables: dict[str, Any]
    groups: list[str]
    line: int | None = None


@dataclass
class _Group:
    hosts: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    children: list[tuple[str, int | None]] = field(default_factory=list)
    line: int | None = None


@dataclass
class _Inventory:
    path: str
    groups: dict[str, _Group] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    host_lines: dict[str, int | None] = field(default_factory=dict)

    def group(self, name: str, line: int | None) -> _Group:
        if not _GROUP_NAME.match(name):
            raise InputError(
                f"{name!r} is not a valid group name",
                path=self.path,
                line=line,
                fix="use letters, digits, '_', '-' and '.' only",
            )
        return self.groups.setdefault(name, _Group(line=line))

    def add_host(self, group: str, host: str, variables: dict[str, Any], line: int | None) -> None:
        self.group(group, line).hosts.append(host)
        self.host_vars.setdefault(host, {}).update(variables)
        self.host_lines.setdefault(host, line)


def load_inventory(path: str) -> list[InventoryHost]:
    """Every host of an inventory file, INI or YAML (chosen by extension, then by content)."""
    text = read_text(path, "Ansible inventory file", fix="fix ansible_inventory")
    return parse_inventory(text, path)


def parse_inventory(text: str, path: str) -> list[InventoryHost]:
    if path.endswith((".yml", ".yaml")) or _looks_like_yaml(text):
        inventory = _parse_yaml(parse_yaml(text, path))
    else:
        inventory = _parse_ini(text, path)
    return _resolve(inventory)


def _looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", ";")):
            return stripped.startswith("---") or stripped.endswith(":")
    return False


# -- INI ---------------------------------------------------------------------------------------


def _parse_ini(text: str, path: str) -> _Inventory:
    inventory = _Inventory(path)
    inventory.group(ALL, None)
    section, kind = UNGROUPED, "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section, kind = _section(line, path, number)
            inventory.group(section, number)
        elif kind == "hosts":
            for host, variables in _host_line(line, path, number):
                inventory.add_host(section, host, variables, number)
        elif kind == "vars":
            key, value = _assignment(line, path, number)
            inventory.group(section, number).variables[key] = value
        else:
            inventory.group(section, number).children.append((line.split()[0], number))
    return inventory


def _section(line: str, path: str, number: int) -> tuple[str, str]:
    if not line.endswith("]"):
        raise InputError(
            f"unterminated section header {line!r}", path=path, line=number, fix="close it with ]"
        )
    name, _, kind = line[1:-1].strip().partition(":")
    if kind not in ("", "vars", "children"):
        raise InputError(
            f"unknown section kind {kind!r} in {line!r}",
            path=path,
            line=number,
            fix="write [group], [group:vars] or [group:children]",
        )
    return name, kind or "hosts"


def _host_line(line: str, path: str, number: int) -> list[tuple[str, dict[str, Any]]]:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError as exc:
        raise InputError(
            f"cannot split the host line: {exc}", path=path, line=number, fix="check quotes"
        ) from None
    pattern, variables = tokens[0], {}
    for token in tokens[1:]:
        key, value = _assignment(token, path, number)
        variables[key] = value
    return [(host, dict(variables)) for host in expand_range(pattern, path, number)]


def _assignment(text: str, path: str, number: int) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or " " in key:
        raise InputError(
            f"expected key=value, found {text!r}",
            path=path,
            line=number,
            fix="write variables as name=value after the host name",
        )
    return key, _literal(value.strip())


def _literal(text: str) -> Any:
    """Ansible reads INI values as Python literals when they are one (`2222`, `[22, 443]`)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def expand_range(pattern: str, path: str, number: int | None) -> list[str]:
    """`web[01:03].x` → web01.x, web02.x, web03.x; `db-[a:c]` → db-a, db-b, db-c."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    start, end, stride = match.group(1), match.group(2), int(match.group(3) or 1)
    head, tail = pattern[: match.start()], pattern[match.end() :]
    if start.isdigit() and end.isdigit():
        width = len(start) if start.startswith("0") else 0
        values = [str(i).zfill(width) for i in range(int(start), int(end) + 1, stride)]
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        values = [chr(c) for c in range(ord(start), ord(end) + 1, stride)]
    else:
        raise InputError(
            f"cannot expand the host range {match.group(0)!r}",
            path=path,
            line=number,
            fix="write [01:20] (numbers) or [a:f] (single letters)",
        )
    if not values:
        raise InputError(
            f"the host range {match.group(0)!r} is empty",
            path=path,
            line=number,
            fix="put the smaller bound first",
        )
    return [h for value in values for h in expand_range(head + value + tail, path, number)]


# -- YAML --------------------------------------------------------------------------------------


def _parse_yaml(doc: YamlDocument) -> _Inventory:
    inventory = _Inventory(doc.path)
    inventory.group(ALL, None)
    if doc.data is None:
        return inventory
    if not isinstance(doc.data, dict):
        raise InputError(
            "a YAML inventory must be a mapping of group names (usually `all:`)",
            path=doc.path,
            line=doc.line_of(()),
            fix="start the file with `all:` and put hosts under `hosts:`",
        )
    for name, body in doc.data.items():
        _yaml_group(inventory, doc, str(name), body, (name,))
    return inventory


def _yaml_group(
    inventory: _Inventory, doc: YamlDocument, name: str, body: Any, loc: tuple[Any, ...]
) -> None:
    line = doc.line_of(loc)
    group = inventory.group(name, line)
    if body is None:
        return
    if not isinstance(body, dict):
        raise _yaml_error(doc, loc, f"group {name!r} must be a mapping of {_YAML_GROUP_KEYS}")
    for key in body:
        if key not in _YAML_GROUP_KEYS:
            raise _yaml_error(
                doc,
                (*loc, key),
                f"unknown key {key!r} in group {name!r} (a host or group in the wrong place?)",
                fix="a group holds only hosts:, vars: and children:",
            )
    group.variables.update(_yaml_mapping(doc, (*loc, "vars"), body.get("vars")))
    for host, variables in _yaml_mapping(doc, (*loc, "hosts"), body.get("hosts")).items():
        host_loc = (*loc, "hosts", host)
        host_vars = _yaml_mapping(doc, host_loc, variables)
        for expanded in expand_range(str(host), doc.path, doc.line_of(host_loc)):
            inventory.add_host(name, expanded, dict(host_vars), doc.line_of(host_loc))
    for child, child_body in _yaml_mapping(doc, (*loc, "children"), body.get("children")).items():
        child_loc = (*loc, "children", child)
        group.children.append((str(child), doc.line_of(child_loc)))
        _yaml_group(inventory, doc, str(child), child_body, child_loc)


def _yaml_mapping(doc: YamlDocument, loc: tuple[Any, ...], value: Any) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _yaml_error(doc, loc, f"{loc[-1]!r} must be a mapping, not {type(value).__name__}")
    return value


def _yaml_error(
    doc: YamlDocument, loc: tuple[Any, ...], problem: str, fix: str | None = None
) -> InputError:
    return InputError(
        problem,
        path=doc.path,
        line=doc.line_of(loc),
        fix=fix or "see the Ansible inventory format: all: {hosts: {...}, children: {...}}",
    )


# -- resolution --------------------------------------------------------------------------------


def _resolve(inventory: _Inventory) -> list[InventoryHost]:
    """Every host with its groups (ancestors included) and effective vars."""
    parents = _parents(inventory)
    depth = {name: _depth(name, parents, inventory, ()) for name in inventory.groups}
    membership: dict[str, set[str]] = {}
    for name, group in inventory.groups.items():
        for host in group.hosts:
            membership.setdefault(host, set()).update(_ancestors(name, parents))
    hosts = []
    for host, groups in membership.items():
        groups.add(ALL)
        variables: dict[str, Any] = {}
        for name in sorted(groups, key=lambda g: (depth[g], g)):
            variables.update(inventory.groups[name].variables)
        variables.update(inventory.host_vars.get(host, {}))
        shown = sorted(g for g in groups if g not in (ALL, UNGROUPED))
        hosts.append(InventoryHost(host, variables, shown, inventory.host_lines.get(host)))
    return sorted(hosts, key=lambda h: h.name)


def _parents(inventory: _Inventory) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {name: set() for name in inventory.groups}
    for name, group in inventory.groups.items():
        for child, line in group.children:
            if child not in inventory.groups:
                raise InputError(
                    f"group {child!r} is listed as a child of {name!r} but never defined",
                    path=inventory.path,
                    line=line,
                    fix=f"add a [{child}] section with its hosts, or remove the line",
                )
            parents[child].add(name)
    return parents


def _depth(
    name: str, parents: dict[str, set[str]], inventory: _Inventory, seen: tuple[str, ...]
) -> int:
    if name in seen:
        raise InputError(
            f"groups form a cycle: {' → '.join((*seen, name))}",
            path=inventory.path,
            line=inventory.groups[name].line,
            fix="a group cannot be its own ancestor",
        )
    above = [_depth(p, parents, inventory, (*seen, name)) for p in parents[name]]
    return 1 + max(above, default=0) if name != ALL else 0


def _ancestors(name: str, parents: dict[str, set[str]]) -> set[str]:
    found, stack = {name}, [name]
    while stack:
        for parent in parents[stack.pop()]:
            if parent not in found:
                found.add(parent)
                stack.append(parent)
    return found
