"""The shared model: canonical JSON and the content hash that decides what changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.factories import resource
from vigil.core.canonical import canonical_json
from vigil.core.model import Resource

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def web_server(**attributes: Any) -> Resource:
    defaults = {"state": "running", "private_ips": ["10.0.0.1"], "latest": "x"}
    return resource(
        "i-0abc",
        name="web-1",
        tags={"team": "payments", "Name": "web-1"},
        **{**defaults, **attributes},
    )


@given(json_values)
def test_canonical_json_is_the_standard_encoding_with_sorted_keys(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    assert canonical_json(value) == expected


def test_canonical_json_writes_other_values_as_text() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    text = canonical_json({"b": moment, "a": "é"})
    assert text == '{"a":"\\u00e9","b":"2026-01-01 00:00:00+00:00"}'


def test_content_hash_of_stored_records_is_unchanged_across_versions() -> None:
    # Hashes stored by earlier versions must still match, or an upgrade reports every
    # resource in every estate as changed.
    tags, attributes, digest = web_server().serialized()
    assert tags == '{"Name":"web-1","team":"payments"}'
    assert digest == "d0e2a2b7d63cfb8fbb3c678ef821b5d0"
    assert web_server().serialized(("latest",))[2] == "473275a045f843aac6cd81b2fc4036b6"


def test_volatile_attributes_are_stored_but_never_change_the_hash() -> None:
    before = web_server(latest="2026-11-23T10:00:00Z").serialized(("latest",))
    after = web_server(latest="2026-11-23T10:05:00Z").serialized(("latest",))
    assert before[2] == after[2]
    assert '"latest":"2026-11-23T10:05:00Z"' in after[1]
    assert web_server(state="stopped").serialized(("latest",))[2] != before[2]
