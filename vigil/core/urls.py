"""Credentials inside URLs (`postgresql://vigil:PASSWORD@db/vigil`): found and hidden one way.

The split is by hand, not by a URL parser: it must also work on the malformed URL a user
typed, which is exactly the one an error message is about to print.
"""

from __future__ import annotations

from urllib.parse import unquote


def _split(url: str) -> tuple[str, str, str, str] | None:
    """(scheme and separator, user, password, host and the rest); None without a password."""
    head, at, host = url.rpartition("@")
    if not at:
        return None
    scheme, sep, userinfo = head.partition("://")
    if not sep:  # a malformed URL: the credentials follow the last slash, if any
        scheme, sep, userinfo = head.rpartition("/")
    user, colon, password = userinfo.partition(":")
    if not colon:
        return None
    return scheme + sep, user, password, host


def url_password(url: str) -> str | None:
    """The password a URL carries, as written (still percent-encoded); None when none."""
    parts = _split(url)
    return parts[2] if parts and parts[2] else None


def url_secrets(url: str) -> list[str]:
    """The password as a driver sees it (percent-decoded): what its errors may quote."""
    password = url_password(url)
    return [unquote(password)] if password else []


def redact_url(url: str) -> str:
    """A URL as it may be printed: the password replaced by `***`."""
    parts = _split(url)
    if parts is None:
        return url
    prefix, user, _password, host = parts
    return f"{prefix}{user}:***@{host}"
