"""Modules loaded on first use, so a command pays only for what it runs.

`vigil --help` and `vigil collect` should start in a few hundred milliseconds, but importing
the storage layer, every rule and every collector's config takes most of a second. The
command-line modules bind the application's modules through `lazy_import`: a stand-in that
imports the real module on its first attribute access. Type checkers see the ordinary import:

```python
if TYPE_CHECKING:
    from vigil.app import check as use_case
else:
    use_case = lazy_import("vigil.app.check")
```

Imports allocate a few hundred thousand objects that live as long as the process (functions,
classes, pydantic schemas); the cyclic garbage collector, run every 700 allocations, keeps
walking them and finds nothing to free: 0.1 s of `vigil collect`'s start-up. `importing()`
pauses it while modules load.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_importers = 0


@contextmanager
def importing() -> Iterator[None]:
    """Pause the cyclic garbage collector while the block imports modules.

    Reference counting still frees what the block drops; cycles wait until it ends. Nested
    and concurrent blocks share the pause; the collector is enabled again when the last one
    ends, unless it was disabled before the first began.
    """
    global _importers
    with _lock:
        pausing = _importers > 0 or gc.isenabled()  # else someone else disabled it: theirs
        if pausing:
            _importers += 1
            gc.disable()
    try:
        yield
    finally:
        if pausing:
            with _lock:
                _importers -= 1
                if _importers == 0:
                    gc.enable()


class _Deferred(ModuleType):
    """Stands in for a module until an attribute is read, then imports it in the usual way.

    The stand-in is never put in `sys.modules` (the standard library's LazyLoader does that):
    a module whose import fails (a plugin claiming a built-in rule id) must fail as an
    ordinary import does, leaving no half-executed module behind for the next import to trip on.
    """

    def __getattr__(self, attr: str) -> Any:  # only for what the stand-in itself lacks
        with importing():
            module = importlib.import_module(self.__name__)
        return getattr(module, attr)


def lazy_import(name: str) -> ModuleType:
    """The module `name`, imported on first attribute access (at once if already imported)."""
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return _Deferred(name)
