"""Route matching and grouping (pure): labels, lists, wildcards, tags, `continue`."""

from __future__ import annotations

from notifiers import routing
from notifiers.routing import RouteConfig

LABELS = {"severity": "high", "rule": "cert.expiring", "source": "aws-prod", "team": "payments"}


def route(**options: object) -> RouteConfig:
    return RouteConfig.model_validate({"notifiers": ["n"], **options})


def test_every_matcher_must_match_and_lists_and_wildcards_widen() -> None:
    assert routing.matches(route(), LABELS)
    assert routing.matches(
        route(match={"severity": ["critical", "high"], "rule": "cert.*"}), LABELS
    )
    assert not routing.matches(route(match={"severity": "high", "team": "infra"}), LABELS)
    assert not routing.matches(route(match={"owner": "alice"}), LABELS)  # label absent


def test_first_match_wins_unless_continue() -> None:
    routes = [
        route(match={"team": "payments"}, continue_=True),
        route(match={"severity": "high"}),
        route(),
    ]
    assert routing.select(routes, LABELS) == [0, 1]
    assert routing.select(routes, {"severity": "low"}) == [2]
    assert routing.select(routes[:2], {"severity": "low"}) == []


def test_group_key_uses_group_by() -> None:
    assert routing.group_key(route(), LABELS) == (("rule", "cert.expiring"), ("source", "aws-prod"))
    assert routing.group_key(route(group_by=["team"]), {}) == (("team", ""),)
