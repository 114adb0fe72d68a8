"""Contract over every registered source kind."""

from __future__ import annotations

import pytest

from collectors.registry import SOURCE_KINDS, collector_class
from vigil.core.model import ResourceType


@pytest.mark.parametrize("provider", sorted(SOURCE_KINDS))
def test_every_source_kind_is_complete(provider: str) -> None:
    kind = SOURCE_KINDS[provider]
    collector = collector_class(provider)
    assert collector.provider == provider
    assert collector.config_model is kind.config_model
    assert kind.config_model.model_fields["provider"].default == provider
    assert collector.__doc__ and kind.config_model.__doc__
    known = {t.value for t in ResourceType}
    assert collector.resource_types and set(collector.resource_types) <= known
    assert set(collector.volatile_attributes) <= set(collector.resource_types)


def test_parsing_config_does_not_load_cloud_clients() -> None:
    import subprocess
    import sys

    code = "import sys, vigil.app.config; print(sorted({'boto3','asyncssh'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
