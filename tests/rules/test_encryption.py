"""encryption.at_rest and encryption.in_transit: false is a finding, true and null are not,
and a resource whose scope is not known is undecided."""

from __future__ import annotations

import pytest

from rules.encryption import AT_REST_KEYS, UnencryptedAtRest, UnencryptedInTransit
from tests.factories.rules import evaluate, one, resource, scope_state, view
from vigil.core.model import Severity, fingerprint

AT_REST = UnencryptedAtRest()
IN_TRANSIT = UnencryptedInTransit()


@pytest.mark.parametrize(("type_", "key"), sorted(AT_REST_KEYS.items()))
def test_each_type_stored_unencrypted_is_flagged(type_: str, key: str) -> None:
    found = one(evaluate(AT_REST, view(resource(type_, "x-1", **{key: False}))))
    assert found.severity is Severity.MEDIUM
    assert found.title == f"{type_} x-1 is stored unencrypted"
    assert found.evidence == {key: False}


@pytest.mark.parametrize(("type_", "key"), sorted(AT_REST_KEYS.items()))
def test_encrypted_is_not_flagged(type_: str, key: str) -> None:
    assert evaluate(AT_REST, view(resource(type_, "x-1", **{key: True}))) == []


@pytest.mark.parametrize("value", [None, "unknown"])
def test_null_or_unreadable_is_unknown_never_a_finding(value: object) -> None:
    memcached = resource("cache", "mc-1", engine="memcached", encrypted=value)
    inventory = view(memcached)
    assert evaluate(AT_REST, inventory) == []
    assert fingerprint(AT_REST.id, memcached.uid) in inventory.unjudged


def test_a_dynamodb_table_is_always_encrypted() -> None:
    table = resource("database", "t", kind="table", engine="dynamodb", storage_encrypted=True)
    assert evaluate(AT_REST, view(table)) == []


def test_a_bucket_is_judged_by_its_account_global_scope() -> None:
    bucket = resource("bucket", "logs", region="eu-west-1", encrypted=False)
    assert one(evaluate(AT_REST, view(bucket))).native_id == "logs"
    only_regional = [scope_state("bucket", region="eu-west-1")]
    assert evaluate(AT_REST, view(bucket, scopes=only_regional)) == []


def test_a_scope_not_known_gives_no_finding() -> None:
    volume = resource("disk", "vol-1", encrypted=False)
    failing = [scope_state("disk", status="failed", last_complete=None)]
    inventory = view(volume, scopes=failing)
    assert evaluate(AT_REST, inventory) == []
    assert fingerprint(AT_REST.id, volume.uid) in inventory.unjudged


def test_a_cache_without_transit_encryption_is_flagged() -> None:
    found = one(
        evaluate(IN_TRANSIT, view(resource("cache", "c", engine="redis", transit_encryption=False)))
    )
    assert found.title == "cache c (redis) accepts unencrypted connections"


def test_a_cache_with_transit_encryption_or_unknown_is_not() -> None:
    on = resource("cache", "on", transit_encryption=True)
    unknown = resource("cache", "unknown")
    inventory = view(on, unknown)
    assert evaluate(IN_TRANSIT, inventory) == []
    assert fingerprint(IN_TRANSIT.id, unknown.uid) in inventory.unjudged


def test_in_transit_under_a_failing_scope_is_undecided() -> None:
    plain = resource("cache", "c", transit_encryption=False)
    failing = [scope_state("cache", status="failed", last_complete=None)]
    assert evaluate(IN_TRANSIT, view(plain, scopes=failing)) == []
