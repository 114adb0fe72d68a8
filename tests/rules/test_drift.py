"""drift.changed."""

from __future__ import annotations

from datetime import timedelta

from rules.drift import AttributeChanged
from rules.view import Change
from tests.factories.rules import NOW, evaluate, one, permission, security_group, server, view
from vigil.core.model import Severity

CHANGED = AttributeChanged()


def change(resource_uid: str, ago: timedelta, **paths: tuple[object, object]) -> Change:
    return Change(
        uid=resource_uid,
        changes={path.replace("__", "."): {"old": o, "new": n} for path, (o, n) in paths.items()},
        at=NOW - ago,
    )


def test_instance_type_change_shows_old_and_new() -> None:
    host = server()
    recorded = [
        change(host.uid, timedelta(hours=1), attributes__instance_type=("t3.micro", "t3.large"))
    ]
    found = one(evaluate(CHANGED, view(host, changes=recorded)))
    assert found.severity is Severity.MEDIUM
    assert found.title == "server i-0001 changed: instance_type 't3.micro' → 't3.large'"
    assert found.evidence["changes"]["attributes.instance_type"]["old"] == "t3.micro"


def test_security_group_rule_change_is_drift() -> None:
    group = security_group()
    recorded = [
        change(group.uid, timedelta(hours=2), attributes__ingress=([], [permission("tcp", 22)]))
    ]
    found = one(evaluate(CHANGED, view(group, changes=recorded)))
    assert "ingress" in found.title
    assert found.evidence["changes"]["attributes.ingress"]["new"][0]["from_port"] == 22


def test_unwatched_attribute_is_not_drift() -> None:
    host = server()
    recorded = [change(host.uid, timedelta(hours=1), attributes__launch_time=("a", "b"))]
    assert evaluate(CHANGED, view(host, changes=recorded)) == []


def test_tag_changes_can_be_watched() -> None:
    host = server()
    recorded = [change(host.uid, timedelta(hours=1), tags__owner=("ann", "bob"))]
    assert evaluate(CHANGED, view(host, changes=recorded)) == []
    assert len(evaluate(CHANGED, view(host, changes=recorded), watch=["tags.owner"])) == 1


def test_change_older_than_the_window_has_resolved() -> None:
    host = server()
    recorded = [change(host.uid, timedelta(hours=25), attributes__instance_type=("a", "b"))]
    assert evaluate(CHANGED, view(host, changes=recorded)) == []
    assert len(evaluate(CHANGED, view(host, changes=recorded), window="2d")) == 1


def test_changes_are_folded_first_old_to_last_new() -> None:
    host = server()
    recorded = [
        change(host.uid, timedelta(hours=3), attributes__instance_type=("a", "b")),
        change(host.uid, timedelta(hours=1), attributes__instance_type=("b", "c")),
    ]
    found = one(evaluate(CHANGED, view(host, changes=recorded)))
    assert found.evidence["changes"]["attributes.instance_type"]["old"] == "a"
    assert found.evidence["changes"]["attributes.instance_type"]["new"] == "c"


def test_a_change_reverted_within_the_window_is_not_drift() -> None:
    host = server()
    recorded = [
        change(host.uid, timedelta(hours=3), attributes__encrypted=(True, False)),
        change(host.uid, timedelta(hours=1), attributes__encrypted=(False, True)),
    ]
    assert evaluate(CHANGED, view(host, changes=recorded)) == []


def test_changes_of_resources_deleted_since_are_not_drift() -> None:
    recorded = [change("aws/gone", timedelta(hours=1), attributes__instance_type=("a", "b"))]
    assert evaluate(CHANGED, view(server(), changes=recorded)) == []
