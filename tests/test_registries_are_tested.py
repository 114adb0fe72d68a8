"""Every registered rule, collector and notifier is exercised by a test that names it.

"A file test_<module>.py exists" proved nothing: a new rule in an old module passed it with no
test at all. Here each registered thing must be named inside some test function (its id, kind
or provider as a string, or its class, directly or through a module-level name bound to it).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from collectors.registry import SOURCE_KINDS, collector_class
from notifiers.registry import NOTIFIERS
from rules.base import Rule
from rules.registry import builtin_rules

TESTS = Path(__file__).parent


def _mentions(node: ast.AST) -> Iterator[str]:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value
        elif isinstance(child, ast.Name):
            yield child.id
        elif isinstance(child, ast.Attribute):
            yield child.attr


@cache
def named_by_tests(folder: str) -> frozenset[str]:
    """Everything the test functions under `folder` name (module-level aliases expanded)."""
    named: set[str] = set()
    for path in (TESTS / folder).rglob("test_*.py"):
        module = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, set[str]] = {}
        for statement in module.body:
            if isinstance(statement, ast.Assign | ast.AnnAssign):
                targets = (
                    statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                )
                for target in targets:
                    if isinstance(target, ast.Name) and statement.value is not None:
                        aliases[target.id] = set(_mentions(statement.value))
        for statement in ast.walk(module):
            if isinstance(statement, ast.FunctionDef) and statement.name.startswith("test_"):
                for mention in _mentions(statement):
                    named.add(mention)
                    named.update(aliases.get(mention, ()))
    return frozenset(named)


@pytest.mark.parametrize("rule", builtin_rules(), ids=lambda r: r.id)
def test_every_rule_is_exercised_by_a_test_that_names_it(rule: Rule) -> None:
    names = named_by_tests("rules")
    assert rule.id in names or type(rule).__name__ in names, (
        f"no test in tests/rules names {rule.id} or {type(rule).__name__}"
    )


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
def test_every_notifier_is_exercised_by_a_test_that_names_it(kind: str) -> None:
    names = named_by_tests("notifiers")
    assert kind in names or NOTIFIERS[kind].__name__ in names, f"no notifier test names {kind}"


@pytest.mark.parametrize("provider", sorted(SOURCE_KINDS))
def test_every_collector_is_exercised_by_a_test_that_names_it(provider: str) -> None:
    factory = collector_class(provider)
    folder = f"collectors/{factory.__module__.split('.')[1]}"  # collectors.aws.collector → aws
    names = named_by_tests(folder)
    assert provider in names or factory.__name__ in names, f"no test in tests/{folder} names it"
