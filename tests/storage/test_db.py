"""Opening the database: bad URLs are input errors that never print a password."""

from __future__ import annotations

import pytest

from storage.db import Database
from vigil.core.errors import InputError
from vigil.core.urls import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://vigil:hunter2@db:5432/vigil", "postgresql://vigil:***@db:5432/vigil"),
        ("postgresql//vigil:hunter2@db/vigil", "postgresql//vigil:***@db/vigil"),
        ("postgresql://vigil:a/b@c@db/vigil", "postgresql://vigil:***@db/vigil"),
        ("postgresql://vigil@db/vigil", "postgresql://vigil@db/vigil"),
        ("sqlite:///var/lib/vigil.db", "sqlite:///var/lib/vigil.db"),
    ],
)
def test_redact_url_hides_only_the_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url", ["postgresql://vigil:hunter2@db:notaport/vigil", "postgresql//vigil:hunter2@db/x"]
)
def test_malformed_url_is_an_input_error_without_the_password(url: str) -> None:
    with pytest.raises(InputError, match="invalid database URL") as caught:
        Database(url, migrate=False)
    assert "hunter2" not in caught.value.message
