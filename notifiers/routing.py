"""Routing and grouping: which routes a finding goes to, and which message it joins.

A route matches when every key of its `match` matches the finding's labels (severity, rule,
source, provider, account, region, type, and resource tags such as `team`). A value may be a
list (any of) and may use shell wildcards (`cert.*`). Routes are tried in order; the first
match wins unless it says `continue: true`. A route without `match` takes everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Protocol


class RouteLike(Protocol):
    """What routing reads of a route (vigil.app.config.RouteConfig has it)."""

    @property
    def match(self) -> Mapping[str, str | list[str]]: ...
    @property
    def continue_(self) -> bool: ...
    @property
    def group_by(self) -> list[str]: ...


def matches(route: RouteLike, labels: Mapping[str, str]) -> bool:
    """Whether every matcher of `route` matches `labels` (no matchers: always)."""
    for key, wanted in route.match.items():
        value = labels.get(key)
        if value is None:
            return False
        options = [wanted] if isinstance(wanted, str) else wanted
        if not any(fnmatchcase(value, option) for option in options):
            return False
    return True


def select(routes: Sequence[RouteLike], labels: Mapping[str, str]) -> list[int]:
    """Indexes of the routes a finding goes to: first match, plus more while `continue`."""
    chosen: list[int] = []
    for index, route in enumerate(routes):
        if matches(route, labels):
            chosen.append(index)
            if not route.continue_:
                break
    return chosen


def group_key(route: RouteLike, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The group a finding joins within a route: its values of the route's `group_by`."""
    return tuple((key, labels.get(key, "")) for key in route.group_by)
