"""Credentials inside URLs (`postgresql://vigil:PASSWORD@db/vigil`): found and hidden one way.

The split is by hand, not by a URL parser: it must also work on the malformed URL a user
typed, which is exactly the one an error message is about to print.
"""

from __future__ import annotations

from urllib.parse import unquote


def _split(url: str) -> tuple[str, str, str, str] | None:
    """(what precedes the credentials, user, password, host and the rest); None without a
    password.

    Credentials end at the last `@` before the query: a query may hold an `@`
    (`?application_name=vigil@prod`), an unencoded password may hold a `/` or an `@`.
    """
    scheme, sep, rest = url.partition("://")
    base = len(scheme) + len(sep) if sep else 0
    end = min((i for i in (url.find("?", base), url.find("#", base)) if i >= 0), default=len(url))
    at = url.rfind("@", base, end)
    if at < 0:
        return None
    # A malformed URL (no `://`): the credentials follow the last slash before the `@`.
    start = base if sep else url.rfind("/", 0, at) + 1
    user, colon, password = url[start:at].partition(":")
    if not colon:
        return None
    return url[:start], user, password, url[at + 1 :]


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
