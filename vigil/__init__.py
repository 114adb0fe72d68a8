"""Vigil: multi-cloud inventory, monitoring and alerting."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """`__version__`, read from the installed package's metadata on first use: importing
    `importlib.metadata` costs `vigil --help` 20 ms it does not need."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("vigil")
    except PackageNotFoundError:  # running from a source tree that was not installed
        found = "0.0.0+local"
    globals()["__version__"] = found
    return found
