"""YAML loading that remembers where every value came from, for errors that name the line."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vigil.core.errors import InputError

Location = tuple[str | int, ...]


@dataclass
class YamlDocument:
    """A parsed YAML document and the line (1-based) of every mapping key and sequence item."""

    path: str
    data: Any
    lines: dict[Location, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the deepest part of `loc` that exists in the document.

        Parts that are not in the document (pydantic adds union tags such as `aws`) are
        skipped, so an error deep in a discriminated union still points at the right line.
        """
        best = self.lines.get(())
        current: Location = ()
        for part in loc:
            candidate = (*current, part)
            if candidate in self.lines:
                current = candidate
                best = self.lines[candidate]
        return best


MAX_INPUT_BYTES = 64 * 2**20
"""The largest config, rule pack, inventory or Terraform state read (a big state is ~10 MiB)."""

MAX_DEPTH = 64
"""Deeper nesting is refused: no config needs it, and an alias cycle (`&a [*a]`) is endless."""

_EXPANSION_ALLOWANCE = 10_000
"""Nodes that aliases may add beyond twice the document's own, against `&a [*a, *a, ...]` bombs."""


def read_bounded(path: str, what: str = "file", fix: str | None = None) -> bytes:
    """The bytes of a regular file of at most MAX_INPUT_BYTES; InputError naming it otherwise.

    A FIFO or a device would block or never end, a directory is no file, and a file of
    gigabytes would be read whole before any check: each is refused before it is opened."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{what} not found", path=path, fix=fix) from None
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror}", path=path, fix=fix) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO, socket or device"
        raise InputError(
            f"the {what} is {kind}, not a regular file",
            path=path,
            fix=fix or "give the path of a file",
        )
    if info.st_size > MAX_INPUT_BYTES:
        raise InputError(
            f"the {what} is {info.st_size / 2**20:.0f} MiB, over the "
            f"{MAX_INPUT_BYTES // 2**20} MiB Vigil reads",
            path=path,
            fix=fix or "split it, or check that this is the file you meant",
        )
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror}", path=path, fix=fix) from None


def read_text(path: str | Path, what: str = "file", fix: str | None = None) -> str:
    """The text of a UTF-8 file; InputError naming the file (and line) if it is not one.

    A binary file (a NUL byte) and bytes that are not UTF-8 are refused with the line they
    are on, so a user who pointed Vigil at the wrong file sees which one and where.
    """
    path = str(path)
    data = read_bounded(path, what, fix)
    if (nul := data.find(b"\0")) >= 0:
        raise InputError(
            f"the {what} is binary, not text (a NUL byte at offset {nul})",
            path=path,
            line=data.count(b"\n", 0, nul) + 1,
            fix=fix or "give the path of a UTF-8 text file",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            path=path,
            line=data.count(b"\n", 0, exc.start) + 1,
            fix="save the file as UTF-8",
        ) from None


def load_yaml(path: str | Path) -> YamlDocument:
    """Read a YAML file. A syntax error is an InputError naming the file and line."""
    return parse_yaml(read_text(path), str(path))


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse YAML text read from `path`; any problem is an InputError naming it."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, path) from None
    except RecursionError:  # the parser recurses per level: `[[[[...` thousands deep
        raise InputError(
            f"nested more than {MAX_DEPTH} levels deep", path=path, fix="flatten the document"
        ) from None
    doc = YamlDocument(path=path, data=None)
    if node is None:
        doc.data = None
        return doc
    doc.lines[()] = node.start_mark.line + 1
    builder = _Builder(path, doc.lines, budget=2 * _count_nodes(node) + _EXPANSION_ALLOWANCE)
    doc.data = builder.construct(node, ())
    return doc


def _syntax_error(exc: yaml.YAMLError, text: str, path: str) -> InputError:
    line: int | None = None
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context
    elif isinstance(exc, yaml.reader.ReaderError):  # a control character, e.g. \x07
        line = text.count("\n", 0, exc.position) + 1
        problem = f"character #x{exc.character:04x} is not allowed in YAML"
    else:
        problem = str(exc)
    return InputError(
        f"invalid YAML: {problem}",
        path=path,
        line=line,
        fix="check indentation, quoting and colons",
    )


def _count_nodes(root: yaml.Node) -> int:
    """Distinct nodes of the document (aliases point at nodes already counted)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return len(seen)


@dataclass
class _Builder:
    """Builds Python values from nodes, recording lines, within a depth and size budget."""

    path: str
    lines: dict[Location, int]
    budget: int

    def construct(self, node: yaml.Node, loc: Location) -> Any:
        self.budget -= 1
        if len(loc) > MAX_DEPTH or self.budget < 0:
            raise InputError(
                f"nested more than {MAX_DEPTH} levels deep"
                if len(loc) > MAX_DEPTH
                else "its aliases (*name) expand to too many values",
                path=self.path,
                line=node.start_mark.line + 1,
                fix="flatten the document; an alias must not contain itself",
            )
        return _construct(node, loc, self)


def _construct(node: yaml.Node, loc: Location, builder: _Builder) -> Any:
    lines, path = builder.lines, builder.path
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = builder.construct(key_node, loc)
            if isinstance(key, list | dict):  # `? [a, b]`: not hashable, not a key we read
                raise InputError(
                    "a mapping key must be a plain value, not a list or mapping",
                    path=path,
                    line=key_node.start_mark.line + 1,
                    fix="write the key as text",
                )
            if key in result:
                raise InputError(
                    f"duplicate key {key!r}",
                    path=path,
                    line=key_node.start_mark.line + 1,
                    fix="keep one of the two entries",
                )
            child = (*loc, key)
            lines[child] = key_node.start_mark.line + 1
            result[key] = builder.construct(value_node, child)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item_node in enumerate(node.value):
            child = (*loc, index)
            lines[child] = item_node.start_mark.line + 1
            items.append(builder.construct(item_node, child))
        return items
    try:
        return yaml.SafeLoader(stream="").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        # An unknown tag (`!!python/object`), or a value its tag cannot hold (`2026-02-30`).
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            f"invalid value {node.value!r}: {problem}",
            path=path,
            line=node.start_mark.line + 1,
            fix="quote the value to keep it as text",
        ) from None
