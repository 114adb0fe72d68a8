"""A small, safe condition language for YAML rule packs: data in, a predicate out, no eval.

```yaml
where:
  all:
    - {attribute: encrypted, equals: false}
    - {tag: env, in: [prod, production]}
    - not: {tag: backup, exists: true}
    - any:
        - {attribute: size_gb, gt: 500}
        - {field: name, regex: "^db-"}
```

A leaf names one subject (`attribute: dotted.path`, `tag: key` or `field:` one of the
resource fields) and one operator: `equals`, `in`, `exists`, `gt`, `lt`, `contains`,
`regex`. A missing value satisfies only `exists: false` (and `not` of anything else).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2

from vigil.core.model import Resource

Predicate = Callable[[Resource], bool]
Location = tuple[str | int, ...]

FIELDS = ("name", "native_id", "type", "source", "provider", "account", "region", "uid")
OPERATORS = ("equals", "in", "exists", "gt", "lt", "contains", "regex")
_SUBJECTS = ("attribute", "tag", "field")
_MISSING = object()


class ConditionError(ValueError):
    """A condition that cannot be compiled; `loc` is where, relative to the `where` key."""

    def __init__(self, message: str, loc: Location = ()) -> None:
        super().__init__(message)
        self.loc = loc


def compile_condition(spec: Any, loc: Location = ()) -> Predicate:
    """Turn a `where` block into a predicate over resources, or raise ConditionError."""
    if not isinstance(spec, dict) or not spec:
        raise ConditionError("a condition must be a mapping (all/any/not or a leaf)", loc)
    for combinator in ("all", "any"):
        if combinator in spec:
            return _combine(combinator, spec, loc)
    if "not" in spec:
        _only(spec, ("not",), loc)
        inner = compile_condition(spec["not"], (*loc, "not"))
        return lambda resource: not inner(resource)
    return _leaf(spec, loc)


def _only(spec: dict[str, Any], allowed: tuple[str, ...], loc: Location) -> None:
    extra = sorted(str(key) for key in spec if key not in allowed)
    if extra:
        raise ConditionError(
            f"unexpected key(s) {', '.join(extra)} beside {'/'.join(allowed)}", (*loc, extra[0])
        )


def _combine(combinator: str, spec: dict[str, Any], loc: Location) -> Predicate:
    _only(spec, (combinator,), loc)
    items = spec[combinator]
    if not isinstance(items, list) or not items:
        raise ConditionError(f"{combinator} must be a non-empty list of conditions", loc)
    parts = [compile_condition(item, (*loc, combinator, i)) for i, item in enumerate(items)]
    if combinator == "all":
        return lambda resource: all(part(resource) for part in parts)
    return lambda resource: any(part(resource) for part in parts)


def _leaf(spec: dict[str, Any], loc: Location) -> Predicate:
    subjects = [key for key in _SUBJECTS if key in spec]
    operators = [key for key in OPERATORS if key in spec]
    unknown = sorted(str(k) for k in spec if k not in _SUBJECTS and k not in OPERATORS)
    if unknown:
        raise ConditionError(
            f"unknown key {unknown[0]!r}; use all, any, not, one of {', '.join(_SUBJECTS)} "
            f"and one of {', '.join(OPERATORS)}",
            (*loc, unknown[0]),
        )
    if len(subjects) != 1:
        raise ConditionError(f"a condition needs exactly one of {', '.join(_SUBJECTS)}", loc)
    if len(operators) != 1:
        raise ConditionError(f"a condition needs exactly one of {', '.join(OPERATORS)}", loc)
    getter = _getter(subjects[0], spec[subjects[0]], (*loc, subjects[0]))
    test = _operator(operators[0], spec[operators[0]], (*loc, operators[0]))
    return lambda resource: test(getter(resource))


def _getter(kind: str, target: Any, loc: Location) -> Callable[[Resource], Any]:
    if not isinstance(target, str) or not target:
        raise ConditionError(f"{kind} must be a non-empty string", loc)
    if kind == "tag":
        return lambda resource: resource.tags.get(target, _MISSING)
    if kind == "field":
        if target not in FIELDS:
            raise ConditionError(f"unknown field {target!r}; use one of {', '.join(FIELDS)}", loc)
        return lambda resource: getattr(resource, target)
    path = target.split(".")

    def attribute(resource: Resource) -> Any:
        value: Any = resource.attributes
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return _MISSING
            value = value[part]
        return value

    return attribute


def _operator(name: str, operand: Any, loc: Location) -> Callable[[Any], bool]:
    if name == "exists":
        if not isinstance(operand, bool):
            raise ConditionError("exists takes true or false", loc)
        return lambda value: (value is not _MISSING and value is not None) == operand
    if name == "equals":
        return lambda value: value is not _MISSING and _equal(value, operand)
    if name == "in":
        if not isinstance(operand, list):
            raise ConditionError("in takes a list of values", loc)
        return lambda value: value is not _MISSING and any(_equal(value, o) for o in operand)
    if name in ("gt", "lt"):
        return _compare(name, operand, loc)
    if name == "contains":
        return lambda value: isinstance(value, list | str | dict) and _contains(value, operand)
    return _regex(operand, loc)


def _compare(name: str, operand: Any, loc: Location) -> Callable[[Any], bool]:
    if isinstance(operand, bool) or not isinstance(operand, int | float):
        raise ConditionError(f"{name} takes a number", loc)
    limit = float(operand)

    def compare(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return value > limit if name == "gt" else value < limit

    return compare


def _equal(value: Any, operand: Any) -> bool:
    """YAML equality: `false` is not `0` and `true` is not `1` (Python says they are)."""
    if isinstance(value, bool) != isinstance(operand, bool):
        return False
    return bool(value == operand)


def _contains(value: list[Any] | str | dict[str, Any], operand: Any) -> bool:
    if isinstance(value, str):
        return isinstance(operand, str) and operand in value
    if isinstance(value, dict):
        return isinstance(operand, str) and operand in value  # a key; a list is no key
    return any(_equal(item, operand) for item in value)


def _regex(operand: Any, loc: Location) -> Callable[[Any], bool]:
    if not isinstance(operand, str):
        raise ConditionError("regex takes a string", loc)
    # RE2 matches in linear time: a pack's `(a+)+$` cannot stall a check on a long name.
    try:
        pattern = re2.compile(operand)
    except re2.error as exc:
        raise ConditionError(
            f"invalid regular expression (RE2 syntax; no backreferences or lookaround): {exc}",
            loc,
        ) from None
    return lambda value: isinstance(value, str) and pattern.search(value) is not None
