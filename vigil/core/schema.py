"""Building blocks for config models, shared by every stage that declares its own settings.

Collectors, rules and notifiers declare their config as pydantic models built from these
types; `vigil.app.config` assembles them into the whole file. This module imports no stage.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SecretStr,
    WithJsonSchema,
)

from vigil.core.timeutil import parse_duration
from vigil.core.urls import url_password

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class StrictModel(BaseModel):
    """A config block: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def expand_env(value: Any) -> Any:
    """Replace `${VAR}` references in a string with the variable's value."""
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set (referenced as ${{{name}}})")
        return os.environ[name]

    return _ENV_REF.sub(substitute, value)


def _secret_from_env(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str) or not _WHOLE_ENV_REF.match(value):
        raise ValueError(
            "secrets must be an environment reference such as ${MY_TOKEN}, not a literal value; "
            "export the secret in an environment variable and reference it"
        )
    return SecretStr(expand_env(value))


_CREDENTIAL_PARTS = frozenset(
    {"token", "password", "passwd", "secret", "credential", "credentials", "apikey"}
)


def is_env_reference(value: Any) -> bool:
    """Whether `value` is exactly one `${VAR}` reference, the only form a credential takes."""
    return isinstance(value, str) and _WHOLE_ENV_REF.match(value) is not None


def is_credential_name(name: str) -> bool:
    """A driver option that holds a credential (DESIGN.md, Invariants, Secrets stay out).

    Its `_`-separated parts include token, password, passwd, secret, credential(s) or apikey,
    or the name ends in `key`: `ex_force_auth_token` and `api_key` are, `key_file` and
    `ex_keyname` are not.
    """
    lowered = name.lower()
    return bool(_CREDENTIAL_PARTS & set(lowered.split("_"))) or lowered.endswith("key")


def literal_url_password(url: str) -> bool:
    """Whether a URL carries a password that is not exactly a `${VAR}` reference."""
    password = url_password(url)
    return password is not None and not is_env_reference(password)


def _duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    try:
        if isinstance(value, int | float):
            return timedelta(seconds=value)
        return parse_duration(str(value))
    except OverflowError:
        raise ValueError(f"duration {value!r} is out of range (at most 999999999 days)") from None


EnvStr = Annotated[str, BeforeValidator(expand_env)]
"""A string that may contain `${VAR}` references, expanded at load time."""


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{value!r} is not an http(s) URL; write it as https://host[:port]/path")
    return value


HttpUrl = Annotated[str, BeforeValidator(expand_env), AfterValidator(_http_url)]
"""An http or https URL with a host (`${VAR}` references expanded): a typo fails at load,
not at the first delivery."""

SecretRef = Annotated[SecretStr, BeforeValidator(_secret_from_env)]
"""A secret: must be written as `${VAR}`; printed as `**********`, never stored."""

Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(lambda d: f"{int(d.total_seconds())}s", return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d|w)\s*$"},
                {"type": "number", "description": "seconds"},
            ],
            "description": "A duration: 30s, 15m, 24h, 7d or 2w (or a number of seconds).",
        }
    ),
]
"""A duration written as `30s`, `15m`, `24h`, `7d` or `2w`."""
