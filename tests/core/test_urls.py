"""Credentials in URLs: found, hidden and refused one way, including in malformed URLs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.core.schema import literal_url_password
from vigil.core.urls import redact_url, url_password, url_secrets

QUERY_AT = "postgresql://vigil:s3cret@db/vigil?application_name=vigil@prod"


def test_an_at_sign_in_the_query_is_not_part_of_the_credentials() -> None:
    assert url_password(QUERY_AT) == "s3cret"
    assert url_secrets(QUERY_AT) == ["s3cret"]
    assert redact_url(QUERY_AT) == "postgresql://vigil:***@db/vigil?application_name=vigil@prod"


def test_an_environment_reference_with_an_at_sign_in_the_query_is_not_a_literal() -> None:
    assert not literal_url_password("postgresql://vigil:${PGPW}@db/vigil?x=a@b")
    assert literal_url_password("postgresql://vigil:hunter2@db/vigil?x=a@b")


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql://u:pa/ss@h/db", "pa/ss"),
        ("postgresql://u:a@b@h/db", "a@b"),
        ("postgresql//u:pw@h/db", "pw"),
        ("postgresql://u@h/db", None),
        ("sqlite:///var/lib/vigil.db", None),
    ],
)
def test_unencoded_and_malformed_urls(url: str, password: str | None) -> None:
    assert url_password(url) == password
    if password:
        assert password not in redact_url(url)


def test_the_decoded_password_is_the_secret_to_scrub() -> None:
    assert url_secrets("postgresql://u:s3cr%40t@h/db") == ["s3cr@t"]


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="@?#:/", blacklist_categories=("Cs",)),
        min_size=1,
    )
)
def test_any_password_is_hidden(password: str) -> None:
    url = f"postgresql://vigil:{password}@db:5432/vigil?sslmode=require"
    assert url_password(url) == password
    assert redact_url(url) == "postgresql://vigil:***@db:5432/vigil?sslmode=require"
