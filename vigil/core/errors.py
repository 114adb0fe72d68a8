"""Vigil's error hierarchy. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "**********"


class VigilError(Exception):
    """Root of every error Vigil raises on purpose.

    `retryable` says whether trying the same thing again later may succeed (a throttled API,
    an SMTP server that is down) or not (bad credentials, a malformed file).
    """

    retryable: bool = False
    exit_code: int = 1

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InputError(VigilError):
    """A file or argument the user gave is invalid. Names the file, the line and the fix."""

    exit_code = 2

    def __init__(
        self,
        problem: str,
        *,
        path: str | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        self.fix = fix
        where = path or ""
        if path and line:
            where = f"{path}:{line}"
        text = f"{where}: {problem}" if where else problem
        if fix:
            text = f"{text}\n  fix: {fix}"
        super().__init__(text)


class ConfigError(InputError):
    """The configuration file is invalid."""


class CollectError(VigilError):
    """A scope could not be collected (access denied, throttled past retries, timeout)."""


class AccessDeniedError(CollectError):
    """The credentials may not read this scope. 'No access' means unknown, never empty."""


PERMISSION_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}
)
"""Error codes that mean "the policy does not allow this call" (not bad or expired keys)."""
_DENIED = re.compile(
    r"\b(?:" + "|".join(sorted(PERMISSION_CODES)) + r") calling \w+\b.*?\bGrant "
    r"(?P<action>[A-Za-z0-9-]+:[A-Za-z0-9*]+) to the role",
    re.DOTALL,
)


def grant_hint(action: str) -> str:
    """How a collector's access error names the IAM action to grant (`denied_action` reads it)."""
    return f"Grant {action} to the role or user Vigil uses"


def denied_action(error: str | None) -> str | None:
    """The IAM action a stored scope error says the policy denied, or None.

    Only permission denials count: rejected, expired or missing credentials are not a missing
    permission but a broken source.
    """
    match = _DENIED.search(error or "")
    return match.group("action") if match else None


class ReadOnlyViolation(VigilError):
    """Something tried to call a cloud API that changes state; refused before sending."""


class StorageError(VigilError):
    """The database could not be reached or is in an unexpected state."""

    retryable = True


class NotifyError(VigilError):
    """A notification could not be delivered."""


class LockedError(VigilError):
    """Another process holds the lock this one needs (e.g. a second `vigil run`)."""

    exit_code = 1


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value (of 4 characters or more) replaced by asterisks.

    For messages that may quote a credential (library errors, URLs) before they are stored,
    logged or shown.
    """
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def secrets_of(model: Any) -> list[str]:
    """Every SecretStr value inside a config model (sources, notifiers, ...)."""
    from pydantic import BaseModel, SecretStr  # `vigil --help` does without pydantic

    found: list[str] = []
    if isinstance(model, SecretStr):
        found.append(model.get_secret_value())
    elif isinstance(model, BaseModel):
        for name in type(model).model_fields:
            found.extend(secrets_of(getattr(model, name)))
        found.extend(secrets_of(model.model_extra or {}))
    elif isinstance(model, dict):
        for value in model.values():
            found.extend(secrets_of(value))
    elif isinstance(model, list | tuple):
        for value in model:
            found.extend(secrets_of(value))
    return found
