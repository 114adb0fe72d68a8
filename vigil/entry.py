"""The `vigil` console script: imports the command line, so a broken plugin is a clean error.

Registries load plugins when they are imported; a plugin that fails there would otherwise
print a traceback before `vigil.cli.main` could turn it into a message and an exit code.
"""

from __future__ import annotations

import sys

from vigil.core.errors import VigilError
from vigil.core.lazy import importing


def main() -> None:
    try:
        with importing():
            from vigil.cli import main as cli_main
    except VigilError as exc:
        print(f"vigil: error: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    cli_main()
