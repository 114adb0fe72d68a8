"""The daemon's logging: secrets are redacted in every part of a record (vigil/app/logs.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from vigil.app.logs import LogFormat, database_secrets, setup_logging

SECRET = "hunter2-token"


@pytest.fixture
def root_saved() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        yield
    finally:
        root.handlers[:], root.level = saved


@pytest.mark.parametrize("fmt", list(LogFormat))
def test_a_traceback_quoting_a_secret_is_redacted(fmt: LogFormat, root_saved: None) -> None:
    stream = io.StringIO()
    setup_logging(fmt, secrets=[SECRET], stream=stream)
    try:
        raise RuntimeError(f"POST https://hooks.example.com/{SECRET} failed")
    except RuntimeError:
        logging.getLogger("vigil.test").exception("delivery crashed")
    text = stream.getvalue()
    assert "RuntimeError" in text and "**********" in text
    assert SECRET not in text
    if fmt is LogFormat.JSON:
        assert "RuntimeError" in json.loads(text)["error"]


@pytest.mark.parametrize("fmt", list(LogFormat))
def test_an_extra_field_that_is_not_text_is_redacted(fmt: LogFormat, root_saved: None) -> None:
    stream = io.StringIO()
    setup_logging(fmt, secrets=[SECRET], stream=stream)
    logging.getLogger("vigil.test").warning(
        "failed", extra={"cause": ValueError(f"token {SECRET} refused"), "attempt": 3}
    )
    text = stream.getvalue()
    assert SECRET not in text and "token ********** refused" in text
    if fmt is LogFormat.JSON:
        assert json.loads(text)["attempt"] == 3


def test_the_database_password_is_a_secret() -> None:
    assert database_secrets("postgresql+psycopg://vigil:s3cr%40t@db:5432/vigil") == ["s3cr@t"]
    assert database_secrets("sqlite:///vigil.db") == []
    assert database_secrets("not a url") == []
