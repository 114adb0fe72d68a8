"""`python -m vigil` is the `vigil` command."""

from vigil.entry import main

main()
