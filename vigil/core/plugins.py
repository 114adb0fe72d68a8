"""Plugins: collectors, rules and notifiers that separately installed packages add.

A package declares them as entry points (DESIGN.md, Layout):

```toml
[project.entry-points."vigil.rules"]
untagged = "acme_vigil.rules:UntaggedServer"
```

Each registry (collectors/, rules/, notifiers/) loads its group once, when it is built, and
treats what it gets exactly as a built-in: the same contract, config validation and
listing. Two packages claiming one id is a broken installation, not a choice to make
silently: start-up fails and names both. `VIGIL_NO_PLUGINS=1` loads none (to tell whether
a plugin is at fault).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from vigil.core.errors import VigilError

COLLECTORS, RULES, NOTIFIERS = "vigil.collectors", "vigil.rules", "vigil.notifiers"
BUILTIN = "vigil (built-in)"
DISABLE_ENV = "VIGIL_NO_PLUGINS"

T = TypeVar("T")


class PluginError(VigilError):
    """An installed plugin cannot be loaded, or claims an id another package has."""

    exit_code = 2


@dataclass(frozen=True)
class Plugin:
    """One loaded entry point and the distribution that declared it."""

    group: str
    name: str
    target: str  # "module:attribute"
    package: str
    obj: Any


def load(group: str) -> list[Plugin]:
    """Every entry point of `group`, loaded; a failing import names its package."""
    if os.environ.get(DISABLE_ENV):
        return []
    return [_load(group, point) for point in sorted(entry_points(group=group), key=_order)]


def _order(point: EntryPoint) -> tuple[str, str]:
    return (point.name, point.value)


def _load(group: str, point: EntryPoint) -> Plugin:
    package = _package(point)
    try:
        obj = point.load()
    except Exception as exc:  # any import-time error of third-party code is the plugin's
        raise PluginError(
            f"plugin {point.name!r} of {package} ({group} = {point.value}) failed to load: "
            f"{type(exc).__name__}: {exc}; fix or uninstall it, or set {DISABLE_ENV}=1"
        ) from exc
    return Plugin(group, point.name, point.value, package, obj)


def _package(point: EntryPoint) -> str:
    dist = point.dist
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown package"


def declared_id(factory: Any, key: str) -> str:
    """The id a collector or notifier plugin declares (`provider`, `type`), once it has the
    config model every registry entry needs."""
    if not isinstance(getattr(factory, "config_model", None), type):
        raise TypeError("it has no config_model class")
    return str(getattr(factory, key))


def register(
    registry: dict[str, T],
    owners: dict[str, str],
    plugins: list[Plugin],
    key_of: Callable[[Any], str],
    entry_of: Callable[[Any], T],
    what: str,
) -> None:
    """Add each plugin's object to `registry` under `key_of(obj)`; `owners` says who holds
    each key (built-ins as BUILTIN). A key held already fails, naming both packages."""
    for plugin in plugins:
        try:
            key = key_of(plugin.obj)
        except Exception as exc:
            raise PluginError(
                f"plugin {plugin.name!r} of {plugin.package} ({plugin.target}) is not a {what}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if key in registry:
            raise PluginError(
                f"{what} {key!r} is claimed twice: by {owners.get(key, BUILTIN)} and by "
                f"{plugin.package} ({plugin.target}); uninstall one of them"
            )
        registry[key] = entry_of(plugin.obj)
        owners[key] = plugin.package
