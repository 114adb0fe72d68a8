"""Contract over the notifier registry: every channel is documented, configured by its own
strict model keyed on `type`, keeps its secrets as SecretRef, and has its own test module."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from notifiers.registry import NOTIFIERS
from vigil.app.config import parse_config

SECRET_KEYS = {"token", "webhook_url", "password", "secret", "routing_key"}


@pytest.mark.parametrize("kind", sorted(NOTIFIERS))
def test_every_notifier_keeps_the_contract(kind: str) -> None:
    factory = NOTIFIERS[kind]
    model = factory.config_model
    assert (
        factory.__doc__
        and model.__doc__
        and typing.get_args(model.model_fields["type"].annotation) == (kind,)
    )
    for key in SECRET_KEYS & set(model.model_fields):  # a literal secret is refused
        with pytest.raises(ValidationError) as raised:
            model.model_validate({"name": "x", "type": kind, key: "literal-secret"})
        refused = [e for e in raised.value.errors() if e["loc"] == (key,)]
        assert refused and "environment reference" in refused[0]["msg"], key


def test_an_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(ValueError) as raised:
        parse_config({"notifiers": [{"name": "x", "type": "pager"}]})
    assert all(f"'{kind}'" in str(raised.value) for kind in NOTIFIERS)
