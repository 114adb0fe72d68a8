"""Modules loaded on first use, so a command pays only for what it runs.

`vigil --help` and `vigil collect` should start in a few hundred milliseconds, but importing
the storage layer, every rule and every collector's config takes most of a second. The
command-line modules bind the application's modules through `lazy_import`: the module object
exists at once and executes on its first attribute access (the standard library's
`importlib.util.LazyLoader`). Type checkers see the ordinary import:

```python
if TYPE_CHECKING:
    from vigil.app import check as use_case
else:
    use_case = lazy_import("vigil.app.check")
```
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """The module `name`, executed on first attribute access (at once if already imported)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
