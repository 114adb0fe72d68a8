"""YAML loading that remembers where every value came from, for errors that name the line."""

from __future__ import annotations

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


def load_yaml(path: str | Path) -> YamlDocument:
    """Read a YAML file. A syntax error is an InputError naming the file and line."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path=path) from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: str) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = f"invalid YAML: {exc.problem or exc.context}"
        raise InputError(
            problem, path=path, line=line, fix="check indentation, quoting and colons"
        ) from None
    doc = YamlDocument(path=path, data=None)
    if node is None:
        doc.data = None
        return doc
    doc.lines[()] = node.start_mark.line + 1
    doc.data = _construct(node, (), doc.lines, path)
    return doc


def _construct(node: yaml.Node, loc: Location, lines: dict[Location, int], path: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, loc, lines, path)
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
            result[key] = _construct(value_node, child, lines, path)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item_node in enumerate(node.value):
            child = (*loc, index)
            lines[child] = item_node.start_mark.line + 1
            items.append(_construct(item_node, child, lines, path))
        return items
    try:
        return yaml.SafeLoader(stream="").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as exc:
        # An unknown tag (`!!python/object`), or a value its tag cannot hold (`2026-02-30`).
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            f"invalid value {node.value!r}: {problem}",
            path=path,
            line=node.start_mark.line + 1,
            fix="quote the value to keep it as text",
        ) from None
