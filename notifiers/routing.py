"""Routing and grouping: which routes a finding goes to, and which message it joins.

A route matches when every key of its `match` matches the finding's labels (severity, rule,
source, provider, account, region, type, and resource tags such as `team`). A value may be a
list (any of) and may use shell wildcards (`cert.*`). Routes are tried in order; the first
match wins unless it says `continue: true`. A route without `match` takes everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from fnmatch import fnmatchcase

from pydantic import Field, field_validator, model_validator

from vigil.core.model import ResourceType, Severity
from vigil.core.schema import Duration, StrictModel


class RouteConfig(StrictModel):
    """Where findings go. The first matching route wins unless it says `continue: true`.

    `match` keys are finding labels (severity, rule, source, provider, account, region,
    type) or resource tags (e.g. team); a value may be a list and may use wildcards.
    """

    name: str | None = None
    match: dict[str, str | list[str]] = Field(default_factory=dict)
    notifiers: list[str] = Field(min_length=1)
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] = Field(default_factory=lambda: ["rule", "source"])
    repeat_interval: Duration = Field(default=timedelta(hours=4), gt=timedelta(0))
    send_resolved: bool = True

    @field_validator("match")
    @classmethod
    def _enums_exist(cls, match: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        # A matcher no severity or type can satisfy routes nothing: refused at load.
        for key, enum in (("severity", Severity), ("type", ResourceType)):
            wanted = match.get(key)
            names = [member.value for member in enum]
            for option in [wanted] if isinstance(wanted, str) else (wanted or []):
                if not any(fnmatchcase(name, option) for name in names):
                    raise ValueError(
                        f"match.{key}: unknown {key} {option!r}; use {', '.join(names)}"
                    )
        return match

    @model_validator(mode="after")
    def _matchers_not_empty(self) -> RouteConfig:
        for key, value in self.match.items():
            if value == [] or value == "":
                raise ValueError(f"match.{key} is empty; give a value or remove the key")
        return self


def matches(route: RouteConfig, labels: Mapping[str, str]) -> bool:
    """Whether every matcher of `route` matches `labels` (no matchers: always)."""
    for key, wanted in route.match.items():
        value = labels.get(key)
        if value is None:
            return False
        options = [wanted] if isinstance(wanted, str) else wanted
        if not any(fnmatchcase(value, option) for option in options):
            return False
    return True


def select(routes: Sequence[RouteConfig], labels: Mapping[str, str]) -> list[int]:
    """Indexes of the routes a finding goes to: first match, plus more while `continue`."""
    chosen: list[int] = []
    for index, route in enumerate(routes):
        if matches(route, labels):
            chosen.append(index)
            if not route.continue_:
                break
    return chosen


def group_key(route: RouteConfig, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The group a finding joins within a route: its values of the route's `group_by`."""
    return tuple((key, labels.get(key, "")) for key in route.group_by)


def route_keys(routes: Sequence[RouteConfig]) -> list[str]:
    """A stable, unique name per route: its `name`, or `route-N` by position.

    The config does not forbid two routes of one name; the key names a route's notify
    state and its messages' idempotency keys, so a repeated name gets its position too
    (`pager`, `pager@route-3`): otherwise the two routes would share reminders, and two
    identical messages in one check would break the findings transaction.
    """
    keys: list[str] = []
    for index, route in enumerate(routes):
        key = route.name or f"route-{index + 1}"
        keys.append(key if key not in keys else f"{key}@route-{index + 1}")
    return keys
